package translator

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/opperotel/bridge/opperapi"
)

// Encoding spans into the wire forms the Opper API takes: the v2 create
// body (with its structured fields carried in meta) and the v3 create
// request.

// Meta keys under which the wire forms carry a span's structured fields.
// The v2 create body has no fields for them, so they travel in meta, where
// the hosted platform keeps them and this project's receiver reads them
// back into the model.
const (
	MetaModel          = "model"
	MetaRequestModel   = "request_model"
	MetaProvider       = "provider"
	MetaGenerationID   = "generation_id"
	MetaFunction       = "function"
	MetaInstructions   = "instructions"
	MetaUsage          = "usage"
	MetaUsageAggregate = "usage_aggregate"
	MetaTotalTokens    = "total_tokens"
	MetaCost           = "cost"
	MetaCostAggregate  = "cost_aggregate"
	MetaCostSource     = "cost_source"
	MetaTags           = "tags"
	MetaUserID         = "user_id"
	MetaSessionID      = "session_id"
	MetaInputJSON      = "input_is_json"
	MetaOutputJSON     = "output_is_json"
)

// Meta keys the translator writes into Meta itself.
const (
	// MetaOTel holds what the span kept of its OTel origin.
	MetaOTel = "otel"
	// MetaRetention says content was removed ("metadata").
	MetaRetention = "retention"
	// MetaTruncated maps each cut content field to its original size.
	MetaTruncated = "truncated"
	// MetaTraceName names the span's trace.
	MetaTraceName = "trace_name"
)

// WireMeta returns the span's meta with its structured fields merged in,
// as it goes on the wire (appendWireMeta), decoded into a map.
func WireMeta(s *Span) map[string]any {
	m, _ := asMap(json.RawMessage(appendWireMeta(nil, s)))
	return m
}

// wireMeta is the span's wire meta, encoded; nil when it is empty.
func wireMeta(s *Span) opperapi.Object {
	b := appendWireMeta(nil, s)
	if len(b) == 2 { // {}
		return nil
	}
	return opperapi.Object(b)
}

// wireFixedKeys are the keys of the structured fields in the wire meta, in
// the order appendWireMeta writes them: sorted, so that one pass merges them
// with the sorted Meta.
var wireFixedKeys = [...]string{
	MetaCost, MetaCostAggregate, MetaCostSource, MetaFunction, MetaGenerationID, MetaInputJSON, MetaInstructions,
	MetaModel, MetaOutputJSON, MetaProvider, MetaRequestModel, MetaSessionID, MetaTags, MetaTotalTokens,
	MetaUsage, MetaUsageAggregate, MetaUserID,
}

// wireFixedFields are wireFixedKeys written as JSON field names, `"key":`.
var wireFixedFields = func() (out [len(wireFixedKeys)]string) {
	for i, k := range wireFixedKeys {
		out[i] = string(appendJSONString(nil, k)) + ":"
	}
	return out
}()

// appendWireMeta writes WireMeta(s) as JSON, without building the map or
// the entry list: the structured fields, in key order, are merged with the
// sorted Meta as they are written. Encoding is most of an exporter's CPU
// per span, and this is its largest part.
func appendWireMeta(b []byte, s *Span) []byte {
	meta := s.Meta.sorted()
	hasCost := s.Cost != nil && !math.IsNaN(*s.Cost) && !math.IsInf(*s.Cost, 0)
	b = append(b, '{')
	n := 0
	key := func(k string) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(b, k)
		b = append(b, ':')
	}
	fixed := func(i int) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, wireFixedFields[i]...)
	}
	j := 0
	for i, k := range wireFixedKeys {
		for j < len(meta) && meta[j].Key < k {
			key(meta[j].Key)
			b = appendJSON(b, meta[j].Value)
			j++
		}
		present := true
		switch i {
		case 0: // cost
			if present = hasCost && !s.Aggregate; present {
				fixed(i)
				b = appendJSONFloat(b, *s.Cost)
			}
		case 1: // cost_aggregate: an aggregate's cost repeats its children's,
			// under its own key, so nothing that sums meta.cost counts it twice.
			if present = hasCost && s.Aggregate; present {
				fixed(i)
				b = appendJSONFloat(b, *s.Cost)
			}
		case 2:
			if present = hasCost && s.CostSource != ""; present {
				fixed(i)
				b = appendJSONString(b, s.CostSource)
			}
		case 3:
			present = appendStrField(&b, &n, wireFixedFields[i], s.Function)
		case 4:
			present = appendStrField(&b, &n, wireFixedFields[i], s.GenerationID)
		case 5:
			if present = s.InputJSON; present {
				fixed(i)
				b = append(b, "true"...)
			}
		case 6:
			if present = s.Instructions != nil; present {
				fixed(i)
				b = appendJSONString(b, *s.Instructions)
			}
		case 7:
			present = appendStrField(&b, &n, wireFixedFields[i], s.Model)
		case 8:
			if present = s.OutputJSON; present {
				fixed(i)
				b = append(b, "true"...)
			}
		case 9:
			present = appendStrField(&b, &n, wireFixedFields[i], s.Provider)
		case 10:
			present = appendStrField(&b, &n, wireFixedFields[i], s.RequestModel)
		case 11:
			present = appendStrField(&b, &n, wireFixedFields[i], s.SessionID)
		case 12:
			if present = len(s.Tags) > 0; present {
				fixed(i)
				b = appendTagMap(b, s.Tags)
			}
		case 13:
			if present = s.Usage != nil && !s.Aggregate; present {
				fixed(i)
				b = strconv.AppendInt(b, s.Usage.Total, 10)
			}
		case 14:
			if present = s.Usage != nil && !s.Aggregate; present {
				fixed(i)
				b = s.Usage.appendJSON(b, false)
			}
		case 15:
			if present = s.Usage != nil && s.Aggregate; present {
				fixed(i)
				b = s.Usage.appendJSON(b, true)
			}
		case 16:
			present = appendStrField(&b, &n, wireFixedFields[i], s.UserID)
		}
		if present && j < len(meta) && meta[j].Key == k {
			j++ // the structured field wins
		}
	}
	for ; j < len(meta); j++ {
		key(meta[j].Key)
		b = appendJSON(b, meta[j].Value)
	}
	return append(b, '}')
}

// appendStrField writes field (a quoted name and a colon) and v after the
// n fields already written, unless v is empty, and reports whether it did.
func appendStrField(b *[]byte, n *int, field, v string) bool {
	if v == "" {
		return false
	}
	if *n > 0 {
		*b = append(*b, ',')
	}
	*n++
	*b = append(*b, field...)
	*b = appendJSONString(*b, v)
	return true
}

// appendTagMap writes tags in Opper's map form, {"tag": true}, keys sorted
// and repeats once, as the encoding of tagMap(tags) is.
func appendTagMap(b []byte, tags []string) []byte {
	sorted := tags
	if !slices.IsSorted(tags) {
		sorted = slices.Sorted(slices.Values(tags))
	}
	b = append(b, '{')
	for i, t := range sorted {
		if i > 0 && t == sorted[i-1] {
			continue
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
		b = append(b, ":true"...)
	}
	return append(b, '}')
}

// tagMap turns a tag list into Opper's map form, {"tag": true}.
func tagMap(tags []string) map[string]any {
	m := make(map[string]any, len(tags))
	for _, t := range tags {
		m[t] = true
	}
	return m
}

// AppendCreateSpanV2 appends the JSON body of `POST /v2/spans` for s. It
// writes the same JSON encoding/json would for opperapi.CreateSpanRequest,
// without reflection: encoding is most of an exporter's CPU per span.
func AppendCreateSpanV2(b []byte, s *Span) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, s.Name)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"trace_id":`...)
	b = appendJSONString(b, s.TraceID)
	if s.ParentID != "" {
		b = append(b, `,"parent_id":`...)
		b = appendJSONString(b, s.ParentID)
	}
	if s.Type != "" {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, s.Type)
	}
	b = appendTimeField(b, "start_time", s.StartTime)
	b = appendTimeField(b, "end_time", s.EndTime)
	b = appendContentField(b, "input", s.Input, s.InputJSON)
	b = appendContentField(b, "output", s.Output, s.OutputJSON)
	if s.Error != nil {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, *s.Error)
	}
	b = append(b, `,"meta":`...)
	b = appendWireMeta(b, s)
	if s.Score != nil {
		b = append(b, `,"score":`...)
		b = strconv.AppendInt(b, *s.Score, 10)
	}
	return append(b, '}')
}

func appendTimeField(b []byte, name string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	start := len(b)
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b, ok := appendRFC3339NanoChecked(b, t)
	if !ok {
		// Outside what RFC 3339 can write: the field is left out.
		return b[:start]
	}
	return append(b, '"')
}

// twoDigits holds "00" to "99" back to back.
const twoDigits = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendRFC3339Nano writes t in UTC as time.RFC3339Nano does (fraction
// without trailing zeros, `Z`), for years 0 to 9999, without the layout
// interpretation AppendFormat does: two timestamps a span.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	b, _ = appendRFC3339NanoChecked(b, t)
	return b
}

// appendRFC3339NanoChecked is appendRFC3339Nano that reports, instead of
// writing, a year outside 0 to 9999. The date comes from the Unix time by
// Hinnant's days-to-civil algorithm: a few integer operations, where
// Time.Date and Time.Clock each work the calendar out again.
func appendRFC3339NanoChecked(b []byte, t time.Time) ([]byte, bool) {
	sec := t.Unix()
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	year := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	if month <= 2 {
		year++
	}
	if year < 0 || year > 9999 {
		return b, false
	}
	b = append(b, twoDigits[2*(year/100):2*(year/100)+2]...)
	b = append(b, twoDigits[2*(year%100):2*(year%100)+2]...)
	b = append(b, '-', twoDigits[2*month], twoDigits[2*month+1], '-', twoDigits[2*day], twoDigits[2*day+1], 'T')
	hour, minute, second := rem/3600, rem/60%60, rem%60
	b = append(b, twoDigits[2*hour], twoDigits[2*hour+1], ':', twoDigits[2*minute], twoDigits[2*minute+1], ':',
		twoDigits[2*second], twoDigits[2*second+1])
	if ns := t.Nanosecond(); ns != 0 {
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		b = append(b, '.')
		b = appendDigits(b, ns, digits)
	}
	return append(b, 'Z'), true
}

// appendDigits writes v, 0 <= v, zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:width]...)
}

func appendContentField(b []byte, name string, v *string, isJSON bool) []byte {
	if v == nil {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	if isJSON && json.Valid([]byte(*v)) {
		return append(b, *v...)
	}
	return appendJSONString(b, *v)
}

// CreateSpanRequestV3 returns the `POST /v3/spans` body for s. v3 assigns
// ids itself, so trace and parent ids are the server's, passed in by the
// caller; input and output are strings; tags are a map.
func CreateSpanRequestV3(s *Span, traceID, parentID string) opperapi.CreateSpanRequestV3 {
	req := opperapi.CreateSpanRequestV3{
		Name:      s.Name,
		StartTime: opperapi.TimePtr(s.StartTime),
		EndTime:   opperapi.TimePtr(s.EndTime),
		Error:     s.Error,
		Meta:      wireMeta(s),
	}
	if traceID != "" {
		req.TraceID = &traceID
	}
	if parentID != "" {
		req.ParentID = &parentID
	}
	if s.Type != "" {
		req.Type = &s.Type
	}
	if s.Input != nil {
		req.Input = opperapi.TextPtr(*s.Input)
	}
	if s.Output != nil {
		req.Output = opperapi.TextPtr(*s.Output)
	}
	if len(s.Tags) > 0 {
		req.Tags = encodeObject(tagMap(s.Tags))
	}
	return req
}
