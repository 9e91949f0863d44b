package translator

import (
	"strings"

	"github.com/opperotel/bridge/opperapi"
)

// Rendering stored spans and roll-ups as the Opper API's answers: v2 and
// v3 spans, spans inside a trace, trace list items and their previews.

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
