package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opperotel/bridge/opperapi"
)

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

// FromCreateV2 builds a span from a v2 create body; structured fields are
// read back out of meta (the inverse of WireMeta). Ids are taken as given;
// the receiver assigns missing ones.
func FromCreateV2(req *opperapi.CreateSpanRequest) (Span, error) {
	s := Span{Name: req.Name, Score: req.Score, Error: req.Error}
	s.ID = CanonicalID(deref(req.ID))
	s.TraceID = CanonicalID(deref(req.TraceID))
	s.ParentID = CanonicalID(deref(req.ParentID))
	s.Type = deref(req.Type)
	s.StartTime = req.StartTime.Std()
	s.EndTime = req.EndTime.Std()
	s.Input, s.InputJSON = contentFromRaw(req.Input)
	s.Output, s.OutputJSON = contentFromRaw(req.Output)
	if err := s.mergeWireMeta(req.Meta); err != nil {
		return Span{}, err
	}
	return s, nil
}

// ApplyUpdateV2 applies a v2 PATCH: present fields replace, meta merges
// key by key.
func ApplyUpdateV2(s *Span, req *opperapi.UpdateSpanRequest) error {
	if req.Name != nil {
		s.Name = *req.Name
	}
	if req.Type != nil {
		s.Type = *req.Type
	}
	if req.StartTime != nil {
		s.StartTime = req.StartTime.Time
	}
	if req.EndTime != nil {
		s.EndTime = req.EndTime.Time
	}
	if req.Input != nil {
		v := string(*req.Input)
		s.Input, s.InputJSON = &v, false
	}
	if req.Output != nil {
		v := string(*req.Output)
		s.Output, s.OutputJSON = &v, false
	}
	if req.Error != nil {
		s.Error = req.Error
	}
	if req.Score != nil {
		s.Score = req.Score
	}
	return s.mergeWireMeta(req.Meta)
}

// FromCreateV3 builds a span from a v3 create body. v3 tags are a map;
// keys whose value is true (or any non-false value) become tags, others
// stay in meta.tags_map.
func FromCreateV3(req *opperapi.CreateSpanRequestV3) (Span, error) {
	s := Span{Name: req.Name, Error: req.Error}
	s.TraceID = CanonicalID(deref(req.TraceID))
	s.ParentID = CanonicalID(deref(req.ParentID))
	s.Type = deref(req.Type)
	s.StartTime = req.StartTime.Std()
	s.EndTime = req.EndTime.Std()
	if req.Input != nil {
		v := string(*req.Input)
		s.Input = &v
	}
	if req.Output != nil {
		v := string(*req.Output)
		s.Output = &v
	}
	if err := s.mergeWireMeta(req.Meta); err != nil {
		return Span{}, err
	}
	if err := s.mergeV3Extras(req.Metadata, req.Tags); err != nil {
		return Span{}, err
	}
	return s, nil
}

// ApplyUpdateV3 applies a v3 PATCH.
func ApplyUpdateV3(s *Span, req *opperapi.UpdateSpanRequestV3) error {
	if req.Output != nil {
		v := string(*req.Output)
		s.Output, s.OutputJSON = &v, false
	}
	if req.Error != nil {
		s.Error = req.Error
	}
	if req.EndTime != nil {
		s.EndTime = req.EndTime.Time
	}
	if err := s.mergeWireMeta(req.Meta); err != nil {
		return err
	}
	return s.mergeV3Extras(req.Metadata, req.Tags)
}

func (s *Span) mergeV3Extras(metadata, tags opperapi.Object) error {
	if len(metadata) > 0 {
		m, err := metadata.Map()
		if err != nil {
			return err
		}
		existing, _ := asMap(s.Meta.Value("metadata"))
		if existing == nil {
			existing = make(map[string]any, len(m))
		}
		for k, v := range m {
			existing[k] = v
		}
		s.Meta.Set("metadata", existing)
	}
	if len(tags) > 0 {
		m, err := tags.Map()
		if err != nil {
			return err
		}
		s.Tags = mergeTags(s.Tags, m)
	}
	return nil
}

// mergeTags adds the keys of a tag map whose value is not false.
func mergeTags(tags []string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if b, isBool := m[k].(bool); isBool && !b {
			continue
		}
		if !slices.Contains(tags, k) {
			tags = append(tags, k)
		}
	}
	return tags
}

// mergeWireMeta merges a wire meta object into s: well-known keys fill the
// structured fields, everything else is kept in s.Meta: scalars decoded,
// objects and arrays as json.RawMessage, decoded only by whoever needs
// them. The receiver does this for every span it is sent, so it scans the
// object instead of decoding it whole.
func (s *Span) mergeWireMeta(raw opperapi.Object) error {
	if len(raw) == 0 {
		return nil
	}
	doc := string(raw)
	if strings.TrimSpace(doc) == "null" {
		return nil
	}
	type field struct{ k, v string }
	var buf [24]field
	fields := buf[:0]
	end := objectFields(doc, skipSpace(doc, 0), func(qk, v string) bool {
		k, ok := unquoteKey(qk)
		if !ok {
			k = qk
		}
		fields = append(fields, field{k, v})
		return true
	})
	if end < 0 {
		// Unreachable for meta that came through a JSON decoder, which has
		// already checked the whole object.
		return errors.New("meta is not a valid JSON object")
	}
	// A repeated key: the last one wins, as with encoding/json. Many keys
	// are checked through a map, not pairwise.
	var last map[string]int
	if len(fields) > 32 {
		last = make(map[string]int, len(fields))
		for i, f := range fields {
			last[f.k] = i
		}
	}
	var rest Meta
	for i, f := range fields {
		if last != nil && last[f.k] != i ||
			last == nil && slices.ContainsFunc(fields[i+1:], func(g field) bool { return g.k == f.k }) {
			continue
		}
		if !s.takeWireField(f.k, f.v) {
			rest = append(rest, MetaField{f.k, scalarOrRaw(f.v)})
		}
	}
	s.Meta.merge(rest)
	return nil
}

// takeWireField fills the structured field a well-known meta key stands
// for; it reports false for any other key, or a value of another shape,
// which then stays in meta as it is.
func (s *Span) takeWireField(k, v string) bool {
	str := func(dst *string) bool {
		t, ok := unquoteJSON(v)
		if ok {
			*dst = t
		}
		return ok
	}
	switch k {
	case MetaModel:
		return str(&s.Model)
	case MetaRequestModel:
		return str(&s.RequestModel)
	case MetaProvider:
		return str(&s.Provider)
	case MetaGenerationID:
		return str(&s.GenerationID)
	case MetaFunction:
		return str(&s.Function)
	case MetaUserID:
		return str(&s.UserID)
	case MetaSessionID:
		return str(&s.SessionID)
	case MetaCostSource:
		return str(&s.CostSource)
	case MetaInstructions:
		t, ok := unquoteJSON(v)
		if ok {
			s.Instructions = &t
		}
		return ok
	case MetaUsage, MetaUsageAggregate:
		u, ok := usageFromJSON(v)
		if ok {
			s.Usage, s.Aggregate = u, k == MetaUsageAggregate
		}
		return ok
	case MetaTotalTokens:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		if s.Usage == nil {
			s.Usage = &Usage{Total: n}
		}
		return true
	case MetaCost, MetaCostAggregate:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		s.Cost = &f
		if k == MetaCostAggregate {
			s.Aggregate = true
		}
		return true
	case MetaTags:
		switch {
		case strings.HasPrefix(v, "{"):
			return objectFields(v, 0, func(tag, val string) bool {
				if t, ok := unquoteKey(tag); ok && val != "false" && !slices.Contains(s.Tags, t) {
					s.Tags = append(s.Tags, t)
				}
				return true
			}) >= 0
		case strings.HasPrefix(v, "["):
			var list []any
			if json.Unmarshal([]byte(v), &list) != nil {
				return false
			}
			for _, e := range list {
				if t, ok := e.(string); ok && !slices.Contains(s.Tags, t) {
					s.Tags = append(s.Tags, t)
				}
			}
			return true
		}
	case MetaInputJSON:
		s.InputJSON = v == "true"
		return v == "true" || v == "false"
	case MetaOutputJSON:
		s.OutputJSON = v == "true"
		return v == "true" || v == "false"
	}
	return false
}

// scalarOrRaw decodes a scalar JSON value and keeps an object or array as
// json.RawMessage.
func scalarOrRaw(v string) any {
	switch {
	case v == "null":
		return nil
	case v == "true":
		return true
	case v == "false":
		return false
	case v[0] == '"':
		if t, ok := unquoteJSON(v); ok {
			return t
		}
	case v[0] == '{' || v[0] == '[':
		return json.RawMessage(v)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return json.RawMessage(v)
}

func usageFromJSON(v string) (*Usage, bool) {
	if !strings.HasPrefix(v, "{") {
		return nil, false
	}
	var u Usage
	hasTotal := false
	if objectFields(v, 0, func(k, val string) bool {
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return true
		}
		switch k {
		case "input_tokens":
			u.Input = n
		case "output_tokens":
			u.Output = n
		case "cache_read_tokens":
			u.CacheRead = n
		case "cache_write_tokens":
			u.CacheWrite = n
		case "reasoning_tokens":
			u.Reasoning = n
		case "total_tokens":
			u.Total, hasTotal = n, true
		}
		return true
	}) < 0 {
		return nil, false
	}
	if !hasTotal {
		if u.Input == 0 && u.Output == 0 {
			return nil, false
		}
		u.Total = u.Input + u.Output
	}
	return &u, true
}

// normalizeNumbers turns json.Number into int64 where it is an integer and
// float64 otherwise, recursively.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	}
	return v
}

func contentFromRaw(raw json.RawMessage) (*string, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, false
	}
	if t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) == nil {
			return &s, false
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) != nil {
		s := string(t)
		return &s, false
	}
	s := buf.String()
	return &s, true
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// contentRaw renders content for a read that may return any JSON: the
// value as sent when it was JSON, else a JSON string.
func contentRaw(v *string, isJSON bool) json.RawMessage {
	if v == nil {
		return nil
	}
	if isJSON && json.Valid([]byte(*v)) {
		return json.RawMessage(*v)
	}
	return json.RawMessage(appendJSONString(nil, *v))
}

// ToSpanV2 renders s as the v2 span body of create, update and get.
func ToSpanV2(s *Span) opperapi.Span {
	out := opperapi.Span{
		ID: s.ID, Name: s.Name,
		StartTime: opperapi.TimePtr(s.StartTime), EndTime: opperapi.TimePtr(s.EndTime),
		Input: contentRaw(s.Input, s.InputJSON), Output: contentRaw(s.Output, s.OutputJSON),
		Error: s.Error, Meta: wireMeta(s), Score: s.Score,
	}
	if s.TraceID != "" {
		out.TraceID = &s.TraceID
	}
	if s.ParentID != "" {
		out.ParentID = &s.ParentID
	}
	if s.Type != "" {
		out.Type = &s.Type
	}
	return out
}

// ToSpanSchema renders s as a span inside a v2 trace: content and model
// facts go in data, as strings and integers as the v2 SDK validates them.
func ToSpanSchema(s *Span, metrics []opperapi.SpanMetricData) opperapi.SpanSchema {
	out := opperapi.SpanSchema{
		ID: s.ID, Name: s.Name,
		StartTime: opperapi.TimePtr(s.StartTime), EndTime: opperapi.TimePtr(s.EndTime),
		Error: s.Error, Meta: wireMeta(s), Metrics: metrics, Score: s.Score,
	}
	if s.ParentID != "" {
		out.ParentID = &s.ParentID
	}
	if s.Type != "" {
		out.Type = &s.Type
	}
	if !s.EndTime.IsZero() {
		ms := s.Duration().Milliseconds()
		out.DurationMS = &ms
	}
	data := opperapi.SpanData{Input: s.Input, Output: s.Output, Instructions: s.Instructions, Tags: s.Tags, Score: s.Score}
	if s.Model != "" {
		data.Model = &s.Model
	}
	if s.Function != "" {
		data.Function = &s.Function
	}
	if s.GenerationID != "" {
		data.GenerationID = &s.GenerationID
	}
	if n := s.TotalTokens(); n > 0 {
		data.TotalTokens = &n
	}
	out.Data = &data
	return out
}

// ToSpanV3 renders s as a v3 span.
func ToSpanV3(s *Span) opperapi.SpanV3 {
	out := opperapi.SpanV3{
		ID: s.ID, TraceID: s.TraceID, Name: s.Name,
		Input: contentRaw(s.Input, false), Output: contentRaw(s.Output, false), Error: s.Error,
		StartTime: opperapi.TimePtr(s.StartTime), EndTime: opperapi.TimePtr(s.EndTime),
		Meta: wireMeta(s), Status: spanStatus(s),
	}
	if s.ParentID != "" {
		out.ParentID = &s.ParentID
	}
	if s.Type != "" {
		out.Type = &s.Type
	}
	if md, ok := asMap(s.Meta.Value("metadata")); ok {
		out.Metadata = encodeObject(md)
	}
	if len(s.Tags) > 0 {
		out.Tags = encodeObject(tagMap(s.Tags))
	}
	if s.Model != "" {
		out.Model = &s.Model
	}
	if n := s.TotalTokens(); n > 0 {
		out.TotalTokens = &n
	}
	if s.Cost != nil && !s.Aggregate {
		out.Cost = s.Cost
	}
	return out
}

func spanStatus(s *Span) string {
	switch {
	case s.Error != nil:
		return StatusError
	case s.Running():
		return StatusRunning
	}
	return StatusOK
}

// previewBytes bounds the root input and output previews in trace lists.
const previewBytes = 512

// PreviewHeadBytes is how much of a long input or output a store reads for
// a trace list's previews. The preview of the head is the preview of the
// whole, unless the text starts with more than 3.5 KB of white space.
const PreviewHeadBytes = 4096

// PreviewHead returns the part of v a store needs for previews, cut on a
// UTF-8 boundary, and whether v is longer than that.
func PreviewHead(v string) (string, bool) {
	if len(v) <= PreviewHeadBytes {
		return v, false
	}
	return TruncateUTF8(v, PreviewHeadBytes), true
}

func preview(v *string) *string {
	if v == nil {
		return nil
	}
	p := strings.TrimSpace(*v)
	if len(p) > previewBytes {
		p = TruncateUTF8(p, previewBytes) + "…"
	}
	return &p
}

// ToTraceListItem renders a roll-up as a v2 trace list item; full input
// and output when full is set (trace get), previews otherwise.
func ToTraceListItem(t *TraceSummary, full bool) opperapi.TraceListItem {
	out := opperapi.TraceListItem{
		ID: t.TraceID, StartTime: opperapi.TimePtr(t.StartTime), EndTime: opperapi.TimePtr(t.EndTime),
		SpanCount: t.SpanCount, TypeCounts: t.TypeCounts, ErrorSpans: t.ErrorSpans, Tags: t.Tags, Summary: t.Summary(),
	}
	if t.Name != "" {
		out.Name = &t.Name
	}
	if t.Status != "" {
		out.Status = &t.Status
	}
	if !t.EndTime.IsZero() {
		ms := t.Duration().Milliseconds()
		out.DurationMS = &ms
	}
	if full {
		out.Input, out.Output = t.Input, t.Output
	} else {
		out.Input, out.Output = preview(t.Input), preview(t.Output)
	}
	if t.TotalTokens > 0 {
		n := t.TotalTokens
		out.TotalTokens = &n
	}
	if t.HasCost {
		c := t.Cost
		out.Cost = &c
	}
	return out
}

// ToTraceListItemV3 renders a roll-up as a v3 trace list item.
func ToTraceListItemV3(t *TraceSummary) opperapi.TraceListItemV3 {
	v2 := ToTraceListItem(t, false)
	return opperapi.TraceListItemV3{
		ID: v2.ID, SpanCount: v2.SpanCount, Name: v2.Name, StartTime: v2.StartTime, EndTime: v2.EndTime,
		DurationMS: v2.DurationMS, Status: v2.Status, TypeCounts: v2.TypeCounts, TotalTokens: v2.TotalTokens,
		Cost: v2.Cost, Input: v2.Input, Output: v2.Output, Summary: v2.Summary,
	}
}
