package opperapi

import "encoding/json"

// The v3 API (`/v3/...`): single objects wrapped in {"data":...}, lists as
// {"data":[...],"meta":{"total_count":n}}, errors as
// {"error":{"code","message","details"}}, server-assigned span ids
// (docs/opper-api.md section 2).

// Envelope wraps a single v3 object.
type Envelope[T any] struct {
	Data T `json:"data"`
}

// CreateSpanRequestV3 is the body of `POST /v3/spans`. It has no id: the
// server assigns one, and a trace id too when trace_id is absent.
type CreateSpanRequestV3 struct {
	Name      string  `json:"name"`
	TraceID   *string `json:"trace_id,omitempty"`
	ParentID  *string `json:"parent_id,omitempty"`
	Type      *string `json:"type,omitempty"`
	Input     *Text   `json:"input,omitempty"`
	Output    *Text   `json:"output,omitempty"`
	Error     *string `json:"error,omitempty"`
	StartTime *Time   `json:"start_time,omitempty"`
	EndTime   *Time   `json:"end_time,omitempty"`
	Meta      Object  `json:"meta,omitempty"`
	Metadata  Object  `json:"metadata,omitempty"`
	Tags      Object  `json:"tags,omitempty"`
}

// CreateSpanResponseV3 is the `data` of a v3 span create answer.
type CreateSpanResponseV3 struct {
	ID       string  `json:"id"`
	TraceID  string  `json:"trace_id"`
	Name     string  `json:"name"`
	ParentID *string `json:"parent_id,omitempty"`
	Type     *string `json:"type,omitempty"`
}

// UpdateSpanRequestV3 is the body of `PATCH /v3/spans/{id}`.
type UpdateSpanRequestV3 struct {
	Output   *Text   `json:"output,omitempty"`
	Error    *string `json:"error,omitempty"`
	EndTime  *Time   `json:"end_time,omitempty"`
	Meta     Object  `json:"meta,omitempty"`
	Metadata Object  `json:"metadata,omitempty"`
	Tags     Object  `json:"tags,omitempty"`
}

// SpanV3 is a span as v3 returns it, alone or inside a trace.
type SpanV3 struct {
	ID        string          `json:"id"`
	TraceID   string          `json:"trace_id"`
	Name      string          `json:"name"`
	ParentID  *string         `json:"parent_id,omitempty"`
	Type      *string         `json:"type,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     *string         `json:"error,omitempty"`
	StartTime *Time           `json:"start_time,omitempty"`
	EndTime   *Time           `json:"end_time,omitempty"`
	Status    string          `json:"status,omitempty"`
	Meta      Object          `json:"meta,omitempty"`
	Metadata  Object          `json:"metadata,omitempty"`
	Tags      Object          `json:"tags,omitempty"`
	CreatedAt *Time           `json:"created_at,omitempty"`

	// This project's additions, ignored by Opper clients.
	Model       *string  `json:"model,omitempty"`
	TotalTokens *int64   `json:"total_tokens,omitempty"`
	Cost        *float64 `json:"cost,omitempty"`
}

// TraceListItemV3 is one element of `GET /v3/traces`.
type TraceListItemV3 struct {
	ID         string  `json:"id"`
	SpanCount  int64   `json:"span_count"`
	Name       *string `json:"name,omitempty"`
	StartTime  *Time   `json:"start_time,omitempty"`
	EndTime    *Time   `json:"end_time,omitempty"`
	DurationMS *int64  `json:"duration_ms,omitempty"`
	Status     *string `json:"status,omitempty"`

	// This project's additions, ignored by Opper clients.
	TypeCounts  map[string]int64 `json:"type_counts,omitempty"`
	TotalTokens *int64           `json:"total_tokens,omitempty"`
	Cost        *float64         `json:"cost,omitempty"`
	Input       *string          `json:"input,omitempty"`
	Output      *string          `json:"output,omitempty"`
	Summary     string           `json:"summary,omitempty"`
}

// TraceV3 is the trace inside `GET /v3/traces/{id}`.
type TraceV3 struct {
	TraceListItemV3
	Spans  []SpanV3  `json:"spans"`
	Events []EventV3 `json:"events"`
}

// TraceResponseV3 is the whole body of `GET /v3/traces/{id}`: the trace in
// `data` as the spec says, and the same fields at the top level, because the
// Python SDK 2.0.0b11 reads them there (docs/opper-api.md section 2.4).
type TraceResponseV3 struct {
	Data TraceV3 `json:"data"`
	TraceV3
}

// EventV3 is a span or trace event (kinds: guardrail, feedback, evaluation).
type EventV3 struct {
	ID        string  `json:"id"`
	SpanID    string  `json:"span_id"`
	SpanUUID  *string `json:"span_uuid,omitempty"`
	Kind      string  `json:"kind"`
	Source    string  `json:"source"`
	Data      Object  `json:"data"`
	CreatedAt *Time   `json:"created_at,omitempty"`
}

// CreateEventRequestV3 is the body of `POST /v3/spans/{id}/events`. The spec
// gives no schema; this is the event's own shape minus the server's fields.
type CreateEventRequestV3 struct {
	Kind   string  `json:"kind"`
	Source *string `json:"source,omitempty"`
	Data   Object  `json:"data,omitempty"`
}
