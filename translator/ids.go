package translator

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Attribute keys that carry an Opper span's own ids through OTLP, so that a
// span which came from an Opper SDK keeps them on a round trip.
const (
	AttrOpperSpanID   = "opper.span.id"
	AttrOpperTraceID  = "opper.trace.id"
	AttrOpperParentID = "opper.parent.id"
	AttrOpperSpanType = "opper.span.type"
	AttrOpperMeta     = "opper.meta"
	// AttrOpperMetricID is set on a gen_ai.evaluation.result event made
	// from a stored metric, so the metric keeps its id through OTLP.
	AttrOpperMetricID = "opper.metric.id"
)

// TraceUUID is the Opper trace id of an OTel trace id: the same 16 bytes.
func TraceUUID(tid pcommon.TraceID) string {
	return uuid.UUID(tid).String()
}

// SpanUUID is the Opper span id of an OTel span: the first 8 bytes of the
// trace id followed by the 8 span id bytes, so it is unique across traces
// and maps back to the span id by its last 8 bytes.
func SpanUUID(tid pcommon.TraceID, sid pcommon.SpanID) string {
	var u uuid.UUID
	copy(u[:8], tid[:8])
	copy(u[8:], sid[:])
	return u.String()
}

// spanUUIDs formats a span's trace, span and parent ids (parent "" for a
// root) into one allocation: three UUID strings sliced from one buffer.
func spanUUIDs(tid pcommon.TraceID, sid, parent pcommon.SpanID) (traceID, spanID, parentID string) {
	var buf [3 * 36]byte
	var u uuid.UUID
	copy(u[:], tid[:])
	encodeUUID(buf[0:36], u)
	copy(u[8:], sid[:])
	encodeUUID(buf[36:72], u)
	n := 72
	if !parent.IsEmpty() {
		copy(u[8:], parent[:])
		encodeUUID(buf[72:108], u)
		n = 108
	}
	all := string(buf[:n])
	traceID, spanID = all[0:36], all[36:72]
	if n == 108 {
		parentID = all[72:108]
	}
	return traceID, spanID, parentID
}

// encodeUUID writes u in the canonical 8-4-4-4-12 form into dst[:36].
func encodeUUID(dst []byte, u uuid.UUID) {
	hex.Encode(dst[0:8], u[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], u[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], u[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], u[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], u[10:16])
}

// CanonicalID returns id as a lower-case 8-4-4-4-12 UUID when it parses as
// a UUID in any of the usual spellings, and unchanged otherwise.
func CanonicalID(id string) string {
	if len(id) == 36 && isCanonicalUUID(id) {
		return id
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return id
	}
	return u.String()
}

func isCanonicalUUID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// OTelTraceID maps an Opper trace id to an OTel trace id: the UUID's bytes,
// or, for an id that is not a UUID, the first 16 bytes of its SHA-256.
func OTelTraceID(id string) pcommon.TraceID {
	if u, err := uuid.Parse(id); err == nil {
		return pcommon.TraceID(u)
	}
	sum := sha256.Sum256([]byte(id))
	var t pcommon.TraceID
	copy(t[:], sum[:16])
	return t
}

// OTelSpanID maps an Opper span id to an OTel span id: the UUID's last 8
// bytes (the inverse of SpanUUID), or the first 8 bytes of its SHA-256.
func OTelSpanID(id string) pcommon.SpanID {
	var s pcommon.SpanID
	if u, err := uuid.Parse(id); err == nil {
		copy(s[:], u[8:])
		return s
	}
	sum := sha256.Sum256([]byte(id))
	copy(s[:], sum[:8])
	return s
}

// syntheticIDs derives stable ids for a span whose OTel ids are empty, from
// its content and position in the batch, so a retried batch maps to the
// same ids and is stored once, while distinct spans stay distinct.
func syntheticIDs(span ptrace.Span, position int) (pcommon.TraceID, pcommon.SpanID) {
	tid, sid := span.TraceID(), span.SpanID()
	h := fnv.New128a()
	var buf [24]byte
	binary.LittleEndian.PutUint64(buf[0:], uint64(span.StartTimestamp()))
	binary.LittleEndian.PutUint64(buf[8:], uint64(span.EndTimestamp()))
	binary.LittleEndian.PutUint64(buf[16:], uint64(position))
	_, _ = h.Write(buf[:])
	_, _ = h.Write([]byte(span.Name()))
	_, _ = h.Write(appendJSON(nil, mapToAny(span.Attributes())))
	sum := h.Sum(nil)
	if tid.IsEmpty() {
		copy(tid[:], sum[:16])
	}
	if sid.IsEmpty() {
		copy(sid[:], sum[8:16])
	}
	return tid, sid
}

// NewID returns a fresh random UUID, for ids a server assigns.
func NewID() string { return uuid.NewString() }

// metricNamespace is the UUID v5 namespace of derived metric ids.
var metricNamespace = uuid.MustParse("5c0e7a52-2f4b-4d8e-9a31-6b7f0c9d1e24")

// MetricID derives a metric id from the id of its span and a key that
// names the evaluation within the span (which event or list item it came
// from, and its dimension): a UUID v5, so the same evaluation of the same
// span gets the same id whoever derives it, and distinct evaluations, or
// the same one on another span, get distinct ids.
func MetricID(spanID, key string) string {
	b := make([]byte, 0, len(spanID)+1+len(key))
	b = append(append(append(b, spanID...), 0), key...)
	return uuid.NewSHA1(metricNamespace, b).String()
}
