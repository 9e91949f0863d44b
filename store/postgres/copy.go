package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"

	"github.com/jackc/pgx/v5"
)

// copySpans writes new span rows with COPY ... FROM STDIN BINARY, encoding
// the stream itself: pgx's generic CopyFrom looks every value's type up
// and boxes it, which cost more client CPU than the rest of the write.
// The format is PostgreSQL's (the COPY documentation's "Binary Format"):
// a header, then per row a field count and each field as a length (-1 for
// NULL) and its binary send representation.
func copySpans(ctx context.Context, tx pgx.Tx, pid int32, c *spanColumns, written int64) error {
	var b bytes.Buffer
	size := 32
	for i := range c.spanID {
		size += 256 + len(c.body[i]) + len(c.input[i]) + len(c.output[i]) + len(c.inputHead[i]) + len(c.outputHead[i])
	}
	b.Grow(size)
	b.WriteString("PGCOPY\n\xff\r\n\x00")
	b.Write(make([]byte, 8)) // flags, header extension length
	e := copyEncoder{&b}
	for i := range c.spanID {
		e.int16(22)
		e.int32(pid)
		e.text(c.spanID[i])
		e.text(c.traceID[i])
		if p := c.pending[i]; p != nil {
			e.len(2)
			e.int16(*p)
			e.int64(written)
		} else {
			e.null()
			e.null()
		}
		e.textPtr(c.parent[i])
		e.int64Ptr(c.start[i])
		e.int64Ptr(c.end[i])
		e.text(c.typ[i])
		e.text(c.name[i])
		e.bool(c.hasErr[i])
		e.int64Ptr(c.usage[i])
		e.bool(c.agg[i])
		if v := c.cost[i]; v != nil {
			e.len(8)
			_ = binary.Write(e.b, binary.BigEndian, math.Float64bits(*v))
		} else {
			e.null()
		}
		e.textPtr(c.traceName[i])
		e.bytes(c.tags[i])
		e.textPtr(c.model[i])
		e.bytes(c.inputHead[i])
		e.bytes(c.outputHead[i])
		e.bytes(c.input[i])
		e.bytes(c.output[i])
		e.bytes(c.body[i])
	}
	e.int16(-1) // trailer
	_, err := tx.Conn().PgConn().CopyFrom(ctx, &b, copySpansSQL)
	return err
}

// copySpansSQL names the 22 columns copySpans writes, in order; version
// takes its default, the next of span_versions.
const copySpansSQL = `COPY spans (project, span_id, trace_id, pending, written_ns, parent_id, start_ns, end_ns, type, name,
	has_error, usage_total, aggregate, cost, trace_name, tags, model, input_head, output_head, input, output, body)
FROM STDIN (FORMAT binary)`

type copyEncoder struct{ b *bytes.Buffer }

func (e copyEncoder) len(n int) {
	e.b.Write(binary.BigEndian.AppendUint32(e.b.AvailableBuffer(), uint32(int32(n))))
}

func (e copyEncoder) null() { e.len(-1) }

func (e copyEncoder) int16(v int16) {
	e.b.Write(binary.BigEndian.AppendUint16(e.b.AvailableBuffer(), uint16(v)))
}

func (e copyEncoder) int32(v int32) {
	e.len(4)
	e.b.Write(binary.BigEndian.AppendUint32(e.b.AvailableBuffer(), uint32(v)))
}

func (e copyEncoder) int64(v int64) {
	e.len(8)
	e.b.Write(binary.BigEndian.AppendUint64(e.b.AvailableBuffer(), uint64(v)))
}

func (e copyEncoder) int64Ptr(v *int64) {
	if v == nil {
		e.null()
		return
	}
	e.int64(*v)
}

func (e copyEncoder) bool(v bool) {
	e.len(1)
	if v {
		e.b.WriteByte(1)
	} else {
		e.b.WriteByte(0)
	}
}

func (e copyEncoder) text(s string) {
	e.len(len(s))
	e.b.WriteString(s)
}

func (e copyEncoder) textPtr(s *string) {
	if s == nil {
		e.null()
		return
	}
	e.text(*s)
}

func (e copyEncoder) bytes(v []byte) {
	if v == nil {
		e.null()
		return
	}
	e.len(len(v))
	e.b.Write(v)
}
