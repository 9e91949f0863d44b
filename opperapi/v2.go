package opperapi

import "encoding/json"

// The v2 API (`/v2/...`): bare JSON bodies, paginated lists as
// {"meta":{"total_count":n},"data":[...]}, errors as {"type","message","detail"}.
// Field names and types follow what the `opperai@3.4.1` TypeScript SDK
// validates (docs/opper-api.md section 1): integers where it wants integers,
// strings where it wants strings, zoned timestamps.

// CreateSpanRequest is the body of `POST /v2/spans`.
type CreateSpanRequest struct {
	Name      string  `json:"name"`
	ID        *string `json:"id,omitempty"`
	TraceID   *string `json:"trace_id,omitempty"`
	ParentID  *string `json:"parent_id,omitempty"`
	Type      *string `json:"type,omitempty"`
	StartTime *Time   `json:"start_time,omitempty"`
	EndTime   *Time   `json:"end_time,omitempty"`
	// Input and Output may be any JSON value on create; objects are kept as
	// they came.
	Input  json.RawMessage `json:"input,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  *string         `json:"error,omitempty"`
	Meta   Object          `json:"meta,omitempty"`
	Score  *int64          `json:"score,omitempty"`
}

// UpdateSpanRequest is the body of `PATCH /v2/spans/{span_id}`. Every field
// is optional; an absent or null field leaves the stored value alone.
type UpdateSpanRequest struct {
	Name      *string `json:"name,omitempty"`
	Type      *string `json:"type,omitempty"`
	StartTime *Time   `json:"start_time,omitempty"`
	EndTime   *Time   `json:"end_time,omitempty"`
	Input     *Text   `json:"input,omitempty"`
	Output    *Text   `json:"output,omitempty"`
	Error     *string `json:"error,omitempty"`
	Meta      Object  `json:"meta,omitempty"`
	Score     *int64  `json:"score,omitempty"`
}

// Span is the response body of span create, update and get.
type Span struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	TraceID   *string         `json:"trace_id,omitempty"`
	ParentID  *string         `json:"parent_id,omitempty"`
	Type      *string         `json:"type,omitempty"`
	StartTime *Time           `json:"start_time,omitempty"`
	EndTime   *Time           `json:"end_time,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     *string         `json:"error,omitempty"`
	Meta      Object          `json:"meta,omitempty"`
	Score     *int64          `json:"score,omitempty"`
}

// GetSpanResponse is the body of `GET /v2/spans/{span_id}`.
type GetSpanResponse struct {
	Span
	Feedback *Feedback `json:"feedback,omitempty"`
}

// Feedback is the latest feedback submitted for a span.
type Feedback struct {
	Score   float64 `json:"score"`
	Comment *string `json:"comment,omitempty"`
}

// SubmitFeedbackRequest is the body of `POST /v2/spans/{span_id}/feedback`.
type SubmitFeedbackRequest struct {
	Score         *float64 `json:"score"`
	Comment       *string  `json:"comment,omitempty"`
	SaveToDataset *bool    `json:"save_to_dataset,omitempty"`
}

// SubmitFeedbackResponse answers a feedback submission.
type SubmitFeedbackResponse struct {
	SpanID       string  `json:"span_id"`
	Score        float64 `json:"score"`
	Comment      *string `json:"comment,omitempty"`
	ExampleSaved bool    `json:"example_saved"`
}

// SaveToDatasetResponse answers `POST /v2/spans/{span_id}/save_examples` (201).
type SaveToDatasetResponse struct {
	DatasetID      string  `json:"dataset_id"`
	DatasetEntryID string  `json:"dataset_entry_id"`
	Input          *string `json:"input,omitempty"`
	Output         *string `json:"output,omitempty"`
	Expected       *string `json:"expected,omitempty"`
	Comment        *string `json:"comment,omitempty"`
}

// CreateSpanMetricRequest is the body of `POST /v2/spans/{span_id}/metrics`.
type CreateSpanMetricRequest struct {
	Dimension string   `json:"dimension"`
	Value     *float64 `json:"value"`
	Comment   *string  `json:"comment,omitempty"`
}

// UpdateSpanMetricRequest is the body of `PATCH /v2/spans/{span_id}/metrics/{metric_id}`.
type UpdateSpanMetricRequest struct {
	Dimension *string  `json:"dimension,omitempty"`
	Value     *float64 `json:"value,omitempty"`
	Comment   *string  `json:"comment,omitempty"`
}

// SpanMetric is a metric as the metrics endpoints return it.
type SpanMetric struct {
	ID        string  `json:"id"`
	SpanID    string  `json:"span_id"`
	Dimension string  `json:"dimension"`
	Value     float64 `json:"value"`
	Comment   *string `json:"comment,omitempty"`
	CreatedAt Time    `json:"created_at"`
}

// ListMeta carries the exact number of items matching a list query.
type ListMeta struct {
	TotalCount int64 `json:"total_count"`
}

// List is a paginated list in both API versions.
type List[T any] struct {
	Meta ListMeta `json:"meta"`
	Data []T      `json:"data"`
}

// TraceListItem is one element of `GET /v2/traces`. The fields after
// TotalTokens are this project's additions; Opper clients ignore them.
type TraceListItem struct {
	ID          string  `json:"id"`
	Name        *string `json:"name,omitempty"`
	StartTime   *Time   `json:"start_time,omitempty"`
	EndTime     *Time   `json:"end_time,omitempty"`
	DurationMS  *int64  `json:"duration_ms,omitempty"`
	Status      *string `json:"status,omitempty"`
	Input       *string `json:"input,omitempty"`
	Output      *string `json:"output,omitempty"`
	TotalTokens *int64  `json:"total_tokens,omitempty"`

	SpanCount   int64            `json:"span_count"`
	TypeCounts  map[string]int64 `json:"type_counts,omitempty"`
	Cost        *float64         `json:"cost,omitempty"`
	ErrorSpans  int64            `json:"error_span_count,omitempty"`
	Tags        []string         `json:"tags,omitempty"`
	Summary     string           `json:"summary,omitempty"`
	ProjectName string           `json:"project,omitempty"`
}

// Trace is the body of `GET /v2/traces/{trace_id}`.
type Trace struct {
	TraceListItem
	Spans []SpanSchema `json:"spans"`
}

// SpanSchema is a span inside a v2 trace: content lives in Data.
type SpanSchema struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	ParentID   *string          `json:"parent_id,omitempty"`
	Type       *string          `json:"type,omitempty"`
	StartTime  *Time            `json:"start_time,omitempty"`
	EndTime    *Time            `json:"end_time,omitempty"`
	DurationMS *int64           `json:"duration_ms,omitempty"`
	Error      *string          `json:"error,omitempty"`
	Meta       Object           `json:"meta,omitempty"`
	Data       *SpanData        `json:"data,omitempty"`
	Metrics    []SpanMetricData `json:"metrics,omitempty"`
	Score      *int64           `json:"score,omitempty"`
}

// SpanData holds a v2 trace span's content and model facts.
type SpanData struct {
	Input         *string  `json:"input,omitempty"`
	Output        *string  `json:"output,omitempty"`
	TotalTokens   *int64   `json:"total_tokens,omitempty"`
	Model         *string  `json:"model,omitempty"`
	Instructions  *string  `json:"instructions,omitempty"`
	Function      *string  `json:"function,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	Score         *int64   `json:"score,omitempty"`
	GenerationID  *string  `json:"generation_id,omitempty"`
	Observations  *string  `json:"observations,omitempty"`
	ScorerContext Object   `json:"scorer_context,omitempty"`
}

// SpanMetricData is a metric inside a v2 trace span.
type SpanMetricData struct {
	ID        string  `json:"id"`
	Dimension string  `json:"dimension"`
	Value     float64 `json:"value"`
	Comment   *string `json:"comment,omitempty"`
	CreatedAt Time    `json:"created_at"`
}

// BatchResponse answers `POST /v2/spans/batch`, this project's bulk
// extension: one result per item of the request array, in the same order.
type BatchResponse struct {
	Results []BatchItemResult `json:"results"`
}

// BatchItemResult is the outcome of one item of a batch: Status is the HTTP
// status the item would have had as a single `POST /v2/spans`.
type BatchItemResult struct {
	Index  int    `json:"index"`
	Status int    `json:"status"`
	ID     string `json:"id,omitempty"`
	Error  *Error `json:"error,omitempty"`
}

// Paths of the trace API, relative to the server root.
const (
	PathV2Spans      = "/v2/spans"
	PathV2SpansBatch = "/v2/spans/batch"
	PathV3Spans      = "/v3/spans"
)

// HeaderSource marks a request sent by this project's exporter. The
// receiver stores spans from such requests but does not hand them to its
// pipeline again, so a collector that runs both halves cannot loop.
const HeaderSource = "X-Opper-Bridge-Source"

// HeaderIdempotencyKey names a metric create (`POST /v2/spans/{span_id}/metrics`)
// so that sending it again stores nothing new. The v2 create body has no
// id, and a header is ignored by servers that do not know it, where an
// extra body field might be rejected. This project's receiver takes a
// UUID key as the metric's id (any other key is hashed into one with the
// span id); the exporter sends the translator's metric id.
const HeaderIdempotencyKey = "Idempotency-Key"

// SourceExporter is the value of HeaderSource on exporter requests.
const SourceExporter = "opperexporter"
