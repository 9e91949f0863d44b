package translator

import (
	"strconv"
	"time"
)

// Span types this translator emits. Opper's type is free text; these are
// the values genai-mapping.md settles on.
const (
	TypeGeneration = "generation"
	TypeEmbedding  = "embedding"
	TypeTool       = "tool"
	TypeAgent      = "agent"
	TypeRetrieval  = "retrieval"
	TypeFunction   = "function"
	TypeGuardrail  = "guardrail"
	TypeEvaluator  = "evaluator"
)

// Span is one span of the Opper trace model: what the exporter sends, what
// the receiver stores and serves, and what goes back to OTLP. Structured
// facts (model, usage, cost...) have fields of their own; the wire forms
// carry them inside meta under the keys in metakeys.go.
type Span struct {
	TraceID  string // canonical UUID
	ID       string // canonical UUID
	ParentID string // "" for a root span

	Name      string
	Type      string
	StartTime time.Time
	EndTime   time.Time // zero while the span is running

	// Content. nil means absent; retention "metadata" clears all three.
	Input        *string
	Output       *string
	Instructions *string
	// InputJSON and OutputJSON record that a v2 client sent the content as
	// a JSON value rather than a string, so reads give it back as sent.
	InputJSON  bool
	OutputJSON bool

	Error *string

	Model        string // the model that answered (response over request)
	RequestModel string // the model asked for, when it differs from Model
	Provider     string
	GenerationID string
	Function     string // the application unit the span belongs to

	// Usage holds token counts with inclusive semantics: Input includes
	// cache reads and writes, Output includes reasoning. When Aggregate is
	// set, the numbers repeat the children's usage (agent and wrapper spans)
	// and never count towards a trace's totals.
	Usage     *Usage
	Aggregate bool

	Cost       *float64 // USD
	CostSource string   // "provided" or "computed:<price table version>"

	Tags      []string
	UserID    string
	SessionID string
	Metrics   []Metric
	Score     *int64

	// Meta is everything else, JSON-ready: finish reasons, model
	// parameters, user metadata, and the unconsumed OTel attributes under
	// "otel".
	Meta Meta
}

// Usage is a token count breakdown with inclusive semantics (semconv).
type Usage struct {
	Input      int64 `json:"input_tokens,omitempty"`
	Output     int64 `json:"output_tokens,omitempty"`
	CacheRead  int64 `json:"cache_read_tokens,omitempty"`
	CacheWrite int64 `json:"cache_write_tokens,omitempty"`
	Reasoning  int64 `json:"reasoning_tokens,omitempty"`
	Total      int64 `json:"total_tokens"`
}

// Metric is an evaluation of a span: Opper's {dimension, value, comment}.
type Metric struct {
	// ID identifies the evaluation across writes of its span: the
	// translator derives it (MetricID) from the span id and where the
	// evaluation sits in the span, so a span exported again (a retry, a
	// replayed queue) carries the same ids and its metrics are stored
	// once. "" when unknown; the store then derives one from the span id
	// and the metric's position.
	ID        string
	Dimension string
	Value     float64
	Comment   string
}

// TotalTokens returns the tokens this span counts towards its trace: zero
// for spans without usage and for aggregates.
func (s *Span) TotalTokens() int64 {
	if s.Usage == nil || s.Aggregate {
		return 0
	}
	return s.Usage.Total
}

// Duration returns end minus start, zero while running.
func (s *Span) Duration() time.Duration {
	if s.EndTime.IsZero() || s.StartTime.IsZero() {
		return 0
	}
	return s.EndTime.Sub(s.StartTime)
}

// Running reports whether the span has not ended yet.
func (s *Span) Running() bool { return s.EndTime.IsZero() }

// appendJSON writes the usage as JSON, keys sorted; aggregate marks it as
// repeating its children's.
func (u *Usage) appendJSON(b []byte, aggregate bool) []byte {
	b = append(b, '{')
	if aggregate {
		b = append(b, `"aggregate":true,`...)
	}
	field := func(k string, v int64) {
		if v != 0 {
			b = append(b, '"')
			b = append(b, k...)
			b = append(b, '"', ':')
			b = strconv.AppendInt(b, v, 10)
			b = append(b, ',')
		}
	}
	field("cache_read_tokens", u.CacheRead)
	field("cache_write_tokens", u.CacheWrite)
	field("input_tokens", u.Input)
	field("output_tokens", u.Output)
	field("reasoning_tokens", u.Reasoning)
	b = append(b, `"semantics":"inclusive","total_tokens":`...)
	b = strconv.AppendInt(b, u.Total, 10)
	return append(b, '}')
}
