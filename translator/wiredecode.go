package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/opperotel/bridge/opperapi"
)

// Decoding the Opper API's create and update bodies (v2, v3) into spans:
// the inverse of the encoding in wire.go.

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
