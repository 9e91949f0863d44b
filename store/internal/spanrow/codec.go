// Package spanrow holds what the SQL backends share: the binary encodings
// of a span body (every field but input and output) and of the small
// columns of a trace row (tags, span counts by type, usage by model), so a
// PostgreSQL and a SQLite store read and write the same records, and the
// trace list's filters on a trace row's own columns.
package spanrow

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// The span body is a compact binary record of every translator.Span field
// except Input and Output, which live in columns of their own so that the
// trace list can show the root's content without decoding a body. A
// hand-written codec rather than JSON or gob: it is several times faster
// on the ingest path, and it keeps the Go types of Meta values (int64
// stays int64, json.Number stays json.Number), so GetSpan returns what was
// written. Slices and maps are written with length+1, 0 meaning nil, so a
// nil slice and an empty one stay apart.

const bodyVersion = 1

// errCorrupt is returned for a body this codec cannot read.
var errCorrupt = errors.New("corrupt span body")

// Span flag bits.
const (
	flagInputJSON = 1 << iota
	flagOutputJSON
	flagAggregate
	flagUsage
	flagCost
	flagScore
	flagError
	flagInstructions
	// flagMetricIDs: each metric is followed by its id. Added after the
	// first bodies were written; a body without it reads as before, with
	// metric ids "".
	flagMetricIDs
)

// Meta value tags.
const (
	tagNil byte = iota
	tagString
	tagFalse
	tagTrue
	tagInt64
	tagInt
	tagFloat64
	tagNumber
	tagRaw
	tagObject
	tagStrings
	tagSlice
	tagMap
	tagMapInt64
)

// maxDepth bounds Meta nesting on both sides, so a hostile cyclic or deep
// value cannot exhaust the stack.
const maxDepth = 64

// AppendBody appends the body of s to b.
func AppendBody(b []byte, s *translator.Span) []byte {
	b = append(b, bodyVersion)
	var flags uint64
	set := func(ok bool, f uint64) {
		if ok {
			flags |= f
		}
	}
	set(s.InputJSON, flagInputJSON)
	set(s.OutputJSON, flagOutputJSON)
	set(s.Aggregate, flagAggregate)
	set(s.Usage != nil, flagUsage)
	set(s.Cost != nil, flagCost)
	set(s.Score != nil, flagScore)
	set(s.Error != nil, flagError)
	set(s.Instructions != nil, flagInstructions)
	set(slices.ContainsFunc(s.Metrics, func(m translator.Metric) bool { return m.ID != "" }), flagMetricIDs)
	b = binary.AppendUvarint(b, flags)
	for _, v := range [...]string{s.TraceID, s.ID, s.ParentID, s.Name, s.Type, s.Model, s.RequestModel,
		s.Provider, s.GenerationID, s.Function, s.CostSource, s.UserID, s.SessionID} {
		b = appendString(b, v)
	}
	b = appendTime(b, s.StartTime)
	b = appendTime(b, s.EndTime)
	if s.Instructions != nil {
		b = appendString(b, *s.Instructions)
	}
	if s.Error != nil {
		b = appendString(b, *s.Error)
	}
	if u := s.Usage; u != nil {
		for _, v := range [...]int64{u.Input, u.Output, u.CacheRead, u.CacheWrite, u.Reasoning, u.Total} {
			b = binary.AppendVarint(b, v)
		}
	}
	if s.Cost != nil {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(*s.Cost))
	}
	if s.Score != nil {
		b = binary.AppendVarint(b, *s.Score)
	}
	b = AppendStrings(b, s.Tags)
	b = appendLen(b, s.Metrics == nil, len(s.Metrics))
	for _, m := range s.Metrics {
		b = appendString(b, m.Dimension)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Value))
		b = appendString(b, m.Comment)
		if flags&flagMetricIDs != 0 {
			b = appendString(b, m.ID)
		}
	}
	return appendFields(b, s.Meta == nil, len(s.Meta), s.Meta.All(), 0)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendLen writes n+1, or 0 for nil.
func appendLen(b []byte, isNil bool, n int) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

// appendTime writes seconds and nanoseconds, not UnixNano, so that any time
// survives; the zero time is its own marker.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func AppendStrings(b []byte, ss []string) []byte {
	b = appendLen(b, ss == nil, len(ss))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendMap(b []byte, m map[string]any, depth int) []byte {
	return appendFields(b, m == nil, len(m), maps.All(m), depth)
}

// appendFields writes the n key and value pairs of fields (a map's or a
// Meta's), or nil, each value with its type at depth+1.
func appendFields(b []byte, isNil bool, n int, fields iter.Seq2[string, any], depth int) []byte {
	b = appendLen(b, isNil, n)
	for k, v := range fields {
		b = appendString(b, k)
		b = appendValue(b, v, depth+1)
	}
	return b
}

// appendValue writes a Meta value with its Go type. A type outside the set
// the translator produces is stored as its JSON (json.RawMessage), which
// keeps its wire form though not its Go type.
func appendValue(b []byte, v any, depth int) []byte {
	if depth > maxDepth {
		return append(b, tagNil)
	}
	switch x := v.(type) {
	case nil:
		return append(b, tagNil)
	case string:
		return appendString(append(b, tagString), x)
	case bool:
		if x {
			return append(b, tagTrue)
		}
		return append(b, tagFalse)
	case int64:
		return binary.AppendVarint(append(b, tagInt64), x)
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(x))
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(x))
	case json.Number:
		return appendString(append(b, tagNumber), string(x))
	case json.RawMessage:
		return appendBytes(append(b, tagRaw), x)
	case opperapi.Object:
		return appendBytes(append(b, tagObject), x)
	case []string:
		return AppendStrings(append(b, tagStrings), x)
	case []any:
		b = appendLen(append(b, tagSlice), x == nil, len(x))
		for _, e := range x {
			b = appendValue(b, e, depth+1)
		}
		return b
	case map[string]any:
		return appendMap(append(b, tagMap), x, depth)
	case map[string]int64:
		b = appendLen(append(b, tagMapInt64), x == nil, len(x))
		for k, n := range x {
			b = appendString(b, k)
			b = binary.AppendVarint(b, n)
		}
		return b
	case translator.JSONAppender:
		return appendJSONValue(b, x)
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			return append(b, tagNil)
		}
		return appendBytes(append(b, tagRaw), raw)
	}
}

// appendJSONValue writes a translator value as tagRaw JSON, encoded in place
// after room for its length, which is then written and the JSON moved up
// against it (a copy of the value, instead of a buffer for it).
func appendJSONValue(b []byte, x translator.JSONAppender) []byte {
	b = append(b, tagRaw)
	lenAt := len(b)
	b = append(b, make([]byte, binary.MaxVarintLen64)...)
	b = x.AppendJSON(b)
	n := len(b) - lenAt - binary.MaxVarintLen64
	var hdr [binary.MaxVarintLen64]byte
	h := appendLen(hdr[:0], false, n)
	copy(b[lenAt+len(h):], b[lenAt+binary.MaxVarintLen64:])
	copy(b[lenAt:], h)
	return b[:lenAt+len(h)+n]
}

// appendBytes is appendString for byte slices, keeping nil apart from empty.
func appendBytes(b, v []byte) []byte {
	b = appendLen(b, v == nil, len(v))
	return append(b, v...)
}

// decoder reads a body; the first error sticks and later reads return zero
// values, so DecodeBody checks once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) raw(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.raw(d.uvarint())) }

// length reads a length+1 and reports nil; a length longer than the rest
// of the body is corrupt (every element takes at least one byte).
func (d *decoder) length() (int, bool) {
	n := d.uvarint()
	if n == 0 {
		return 0, true
	}
	if n-1 > uint64(len(d.b)) {
		d.fail()
		return 0, true
	}
	return int(n - 1), false
}

func (d *decoder) bytes() []byte {
	n, isNil := d.length()
	if isNil {
		return nil
	}
	return append([]byte{}, d.raw(uint64(n))...)
}

func (d *decoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) strings() []string {
	n, isNil := d.length()
	if isNil {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

func (d *decoder) mapAny(depth int) map[string]any {
	n, isNil := d.length()
	if isNil {
		return nil
	}
	m := make(map[string]any, n)
	d.fields(n, depth, func(k string, v any) { m[k] = v })
	return m
}

// fields reads n key and value pairs written by appendFields at depth.
func (d *decoder) fields(n, depth int, put func(k string, v any)) {
	for range n {
		k := d.string()
		put(k, d.value(depth+1))
	}
}

func (d *decoder) value(depth int) any {
	tag := d.byte()
	if depth > maxDepth && tag != tagNil {
		// appendValue writes nil past maxDepth.
		d.fail()
		return nil
	}
	switch tag {
	case tagNil:
		return nil
	case tagString:
		return d.string()
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt64:
		return d.varint()
	case tagInt:
		return int(d.varint())
	case tagFloat64:
		return d.float()
	case tagNumber:
		return json.Number(d.string())
	case tagRaw:
		return json.RawMessage(d.bytes())
	case tagObject:
		return opperapi.Object(d.bytes())
	case tagStrings:
		return d.strings()
	case tagSlice:
		n, isNil := d.length()
		if isNil {
			return []any(nil)
		}
		s := make([]any, n)
		for i := range s {
			s[i] = d.value(depth + 1)
		}
		return s
	case tagMap:
		return d.mapAny(depth)
	case tagMapInt64:
		n, isNil := d.length()
		if isNil {
			return map[string]int64(nil)
		}
		m := make(map[string]int64, n)
		for range n {
			k := d.string()
			m[k] = d.varint()
		}
		return m
	default:
		d.fail()
		return nil
	}
}

// DecodeBody reads a body written by AppendBody into s, leaving Input and
// Output alone.
func DecodeBody(b []byte, s *translator.Span) error {
	d := decoder{b: b}
	if v := d.byte(); v != bodyVersion {
		return fmt.Errorf("%w: version %d", errCorrupt, v)
	}
	flags := d.uvarint()
	for _, p := range [...]*string{&s.TraceID, &s.ID, &s.ParentID, &s.Name, &s.Type, &s.Model, &s.RequestModel,
		&s.Provider, &s.GenerationID, &s.Function, &s.CostSource, &s.UserID, &s.SessionID} {
		*p = d.string()
	}
	s.StartTime = d.time()
	s.EndTime = d.time()
	s.InputJSON = flags&flagInputJSON != 0
	s.OutputJSON = flags&flagOutputJSON != 0
	s.Aggregate = flags&flagAggregate != 0
	if flags&flagInstructions != 0 {
		v := d.string()
		s.Instructions = &v
	}
	if flags&flagError != 0 {
		v := d.string()
		s.Error = &v
	}
	if flags&flagUsage != 0 {
		s.Usage = &translator.Usage{
			Input: d.varint(), Output: d.varint(), CacheRead: d.varint(),
			CacheWrite: d.varint(), Reasoning: d.varint(), Total: d.varint(),
		}
	}
	if flags&flagCost != 0 {
		v := d.float()
		s.Cost = &v
	}
	if flags&flagScore != 0 {
		v := d.varint()
		s.Score = &v
	}
	s.Tags = d.strings()
	if n, isNil := d.length(); !isNil {
		s.Metrics = make([]translator.Metric, n)
		for i := range s.Metrics {
			s.Metrics[i] = translator.Metric{Dimension: d.string(), Value: d.float(), Comment: d.string()}
			if flags&flagMetricIDs != 0 {
				s.Metrics[i].ID = d.string()
			}
		}
	}
	if flags&flagMetricIDs != 0 && !slices.ContainsFunc(s.Metrics, func(m translator.Metric) bool { return m.ID != "" }) {
		d.fail() // not what AppendBody writes: one body per span
	}
	if n, isNil := d.length(); !isNil {
		s.Meta = make(translator.Meta, 0, n)
		d.fields(n, 0, func(k string, v any) { s.Meta = append(s.Meta, translator.MetaField{Key: k, Value: v}) })
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}

// DecodeStrings reads a column written by AppendStrings; NULL is nil.
func DecodeStrings(b []byte) ([]string, error) {
	if b == nil {
		return nil, nil
	}
	d := decoder{b: b}
	ss := d.strings()
	return ss, d.err
}

// AppendTypeCounts writes span counts by type, sorted by type.
func AppendTypeCounts(b []byte, counts map[string]int64) []byte {
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	slices.SortFunc(types, cmp.Compare)
	b = appendLen(b, false, len(types))
	for _, t := range types {
		b = appendString(b, t)
		b = binary.AppendVarint(b, counts[t])
	}
	return b
}

func DecodeTypeCounts(b []byte) (map[string]int64, error) {
	d := decoder{b: b}
	n, _ := d.length()
	m := make(map[string]int64, n)
	for range n {
		t := d.string()
		m[t] = d.varint()
	}
	return m, d.err
}

// AppendModelUsage writes a trace's usage by model; none is NULL.
func AppendModelUsage(b []byte, usage []translator.ModelUsage) []byte {
	if len(usage) == 0 {
		return nil
	}
	b = appendLen(b, false, len(usage))
	for _, u := range usage {
		b = appendString(b, u.Model)
		b = binary.AppendVarint(b, u.Calls)
		b = binary.AppendVarint(b, u.Tokens)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(u.Cost))
	}
	return b
}

// AddModelUsage adds a column written by AppendModelUsage to totals.
func AddModelUsage(totals []translator.ModelUsage, b []byte) ([]translator.ModelUsage, error) {
	if b == nil {
		return totals, nil
	}
	d := decoder{b: b}
	n, _ := d.length()
	for range n {
		u := translator.ModelUsage{Model: d.string(), Calls: d.varint(), Tokens: d.varint(), Cost: d.float()}
		if d.err != nil {
			break
		}
		totals = translator.AddModelUsage(totals, u)
	}
	return totals, d.err
}

// ClampedUnixNano is t in Unix nanoseconds, held to what an int64 can
// count (years 1678 to 2262): UnixNano wraps around outside that, so a
// filter from the year 2999 would keep everything.
func ClampedUnixNano(t time.Time) int64 {
	switch {
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	}
	return t.UnixNano()
}

// ColumnFilters calls add with each condition of q on the traces table's
// own columns (alias t; status, duration, cost, start time) and its value,
// written with ? for the value: what both SQL backends filter alike.
func ColumnFilters(q *store.TraceQuery, add func(cond string, v any)) {
	if q.Status != "" {
		add("t.status = ?", q.Status)
	}
	if q.MinDuration > 0 {
		add("t.duration_ns >= ?", int64(q.MinDuration))
	}
	if q.MaxDuration > 0 {
		add("t.duration_ns <= ?", int64(q.MaxDuration))
	}
	if q.MinCost != nil {
		add("t.cost >= ?", *q.MinCost)
	}
	if q.MaxCost != nil {
		add("t.cost <= ?", *q.MaxCost)
	}
	if !q.From.IsZero() {
		add("t.start_ns >= ?", ClampedUnixNano(q.From))
	}
	if !q.To.IsZero() {
		add("t.start_ns < ?", ClampedUnixNano(q.To))
	}
}

// FromNanos is a time column's value (Unix nanoseconds; NULL for the zero
// time) as a time, in UTC.
func FromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// DecodeSummaryColumns fills a roll-up's span counts by type and root tags
// from their trace-row columns.
func DecodeSummaryColumns(sum *translator.TraceSummary, typeCounts, tags []byte) error {
	var err error
	if sum.TypeCounts, err = DecodeTypeCounts(typeCounts); err != nil {
		return err
	}
	sum.Tags, err = DecodeStrings(tags)
	return err
}
