package translator

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// contentMetaKeys are meta entries that hold message content or may echo
// it (tool definitions carry descriptions written for the model, an
// exception message may quote input).
var contentMetaKeys = []string{"tool_definitions", "exception_stacktrace"}

// ApplyRetention removes content from s unless r is RetentionFull: input,
// output, instructions, content-bearing meta and the unconsumed OTel events
// (whose attributes may hold messages). Structure, models, tokens, cost and
// the error stay.
func ApplyRetention(s *Span, r Retention) {
	if r == RetentionFull {
		return
	}
	dropped := s.Input != nil || s.Output != nil || s.Instructions != nil
	s.Input, s.Output, s.Instructions = nil, nil, nil
	for _, k := range contentMetaKeys {
		if s.Meta.Has(k) {
			s.Meta.Delete(k)
			dropped = true
		}
	}
	switch otel := s.Meta.Value(MetaOTel).(type) {
	case *otelMeta:
		if otel.events != nil {
			// Copy before changing: the value may be shared.
			trimmed := *otel
			trimmed.events = nil
			s.Meta.Set(MetaOTel, &trimmed)
			dropped = true
		}
	case map[string]any:
		if _, ok := otel["events"]; ok {
			delete(otel, "events")
			dropped = true
		}
	case json.RawMessage:
		// Translated under full retention: events were kept, encoded.
		if m, ok := asMap(otel); ok {
			if _, has := m["events"]; has {
				delete(m, "events")
				s.Meta.Set(MetaOTel, json.RawMessage(appendJSON(nil, m)))
				dropped = true
			}
		}
	}
	if dropped {
		s.Meta.Set(MetaRetention, string(RetentionMetadata))
	}
}

// TruncateMarker ends content cut by TruncateContent.
const TruncateMarker = "…[truncated]"

// DefaultMaxFieldBytes is the field cap the exporter and the receiver
// apply by default: with both at it, content the exporter cut is not cut
// again by the receiver.
const DefaultMaxFieldBytes = 256 << 10

// minMaxFieldBytes leaves room for TruncateMarker.
const minMaxFieldBytes = 64

// ValidateMaxFieldBytes checks a configured max_field_bytes: 0 (no limit)
// or room for more than the marker.
func ValidateMaxFieldBytes(n int) error {
	if n < 0 || (n > 0 && n < minMaxFieldBytes) {
		return fmt.Errorf("max_field_bytes must be 0 (no limit) or at least %d, got %d", minMaxFieldBytes, n)
	}
	return nil
}

// TruncateContent cuts input, output and instructions longer than limit
// bytes on a UTF-8 boundary, appends TruncateMarker, and records each
// field's original size in meta.truncated. A limit <= 0 means no limit.
// A cut field that was a JSON value (InputJSON, OutputJSON) is text now:
// its flag is cleared, so it is neither announced nor given back as JSON.
func TruncateContent(s *Span, limit int) {
	if limit <= 0 {
		return
	}
	for _, f := range []struct {
		name   string
		p      **string
		isJSON *bool
	}{{"input", &s.Input, &s.InputJSON}, {"output", &s.Output, &s.OutputJSON}, {"instructions", &s.Instructions, nil}} {
		if *f.p == nil || len(**f.p) <= limit {
			continue
		}
		orig := len(**f.p)
		cut := TruncateUTF8(**f.p, limit-len(TruncateMarker)) + TruncateMarker
		*f.p = &cut
		if f.isJSON != nil {
			*f.isJSON = false
		}
		// A copy when it was encoded, so it is set back.
		tr, ok := asMap(s.Meta.Value(MetaTruncated))
		if !ok {
			tr = make(map[string]any, 3)
		}
		tr[f.name] = int64(orig)
		s.Meta.Set(MetaTruncated, tr)
	}
}

// TruncateUTF8 returns the longest prefix of s of at most n bytes that does
// not split a UTF-8 sequence.
func TruncateUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
