// Package store keeps the Opper trace tree for the opper_storage extension,
// which the exporter writes into and the receiver serves: spans, their
// metrics, feedback and events, per project, with the roll-ups the trace
// list shows, and an outbox of spans still to be handed to the collector
// pipeline. Every backend (SQLite now, PostgreSQL next) implements Store
// and passes the conformance suite in storetest.
package store // import "github.com/opperotel/bridge/store"

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/opperotel/bridge/translator"
)

// ErrNotFound is returned when a span, trace, metric or event does not
// exist in the caller's project.
var ErrNotFound = errors.New("not found")

// DefaultProject is the project of data written without an API key: the
// anonymous receiver's, and what the exporter's storage mode writes into
// unless told otherwise, so the two meet by default.
const DefaultProject = "default"

// ValidateProject checks a project name as configured (an api_keys entry,
// the exporter's project); its error reads after the word "project".
func ValidateProject(p string) error {
	switch {
	case p == "":
		return errors.New("must not be empty")
	case len(p) > 128:
		return errors.New("must be at most 128 bytes")
	case strings.TrimSpace(p) != p:
		return fmt.Errorf("%q must not start or end with spaces", p)
	}
	return nil
}

// ErrUnavailable marks an error of a store that cannot serve now (a
// database server that is down, restarting or out of connections), as
// opposed to a bad request: the caller answers "retry later" (503), and
// the same request succeeds once the store is back.
var ErrUnavailable = errors.New("trace store unavailable")

// ErrConflict is returned when an id the caller chose already belongs to
// something else in the project: a metric id given to CreateMetric that
// another span's metric has.
var ErrConflict = errors.New("already exists")

// Store is the trace store. Implementations are safe for concurrent use by
// several goroutines and, for shared backends, several processes.
//
// Every method is scoped to a project: data of one project is invisible to
// another, and an id that exists only in another project is ErrNotFound.
// A write that returns nil is durable. Times come back in UTC, without
// monotonic clock readings.
type Store interface {
	// UpsertSpans writes spans idempotently: a span whose id already exists
	// in the project is replaced by the new version, so a retried or
	// replayed write stores each span once. A span may arrive before its
	// parent. When forward is true, a span that is complete (has an end
	// time) and has not been forwarded yet is queued in the outbox; spans
	// written with forward false (the exporter's own, by the loop guard)
	// never are. A span that was forwarded complete is not queued again by
	// a later write; one forwarded incomplete is queued again once it
	// completes. A span without ID or TraceID fails the whole batch.
	//
	// A span's Metrics are also stored as metrics of the span (ListMetrics,
	// GetTrace), idempotently, keyed by (project, metric id): a metric whose
	// id is stored already is left as it is, so a replay neither duplicates
	// it nor undoes an UpdateMetric; a new one is added, with the store's
	// creation time. A Metric without ID gets SpanMetricID. A write never
	// removes metrics (those the span no longer carries, and those added by
	// CreateMetric, stay), and an id that another span's metric has is
	// skipped. GetSpan returns Metrics as written.
	UpsertSpans(ctx context.Context, project string, spans []translator.Span, forward bool) error
	// UpdateSpan changes a stored span: it reads the span, calls fn on it
	// and writes the result as UpsertSpans(project, [span], forward) would,
	// in one transaction of the store. Updates of one span are applied one
	// after the other, across every process sharing the store, so two
	// concurrent updates never lose each other's fields. An error from fn
	// is returned as is and nothing is written; fn must not change the
	// span's ID or TraceID. An unknown span is ErrNotFound.
	UpdateSpan(ctx context.Context, project, spanID string, forward bool, fn func(*translator.Span) error) (translator.Span, error)
	// GetSpan returns one span.
	GetSpan(ctx context.Context, project, spanID string) (translator.Span, error)
	// DeleteSpan removes a span with its metrics and events.
	DeleteSpan(ctx context.Context, project, spanID string) error

	// GetTrace returns all spans of a trace, ordered by start time, and its
	// roll-up (translator.RollUp over those spans).
	GetTrace(ctx context.Context, project, traceID string) (Trace, error)
	// ListTraces returns the roll-ups of the traces matching q, newest
	// first (by trace start), and the exact number of matching traces.
	// Their Input and Output are heads, for previews
	// (translator.PreviewHead), of the content RollUp chooses: the root's,
	// or where the root has none, the first generation's input and the
	// last generation's output. A list never reads more of a span's
	// content than its head.
	ListTraces(ctx context.Context, project string, q TraceQuery) ([]translator.TraceSummary, int64, error)
	// UsageByModel sums, per model, the usage of the traces that start in
	// [from, to) (a zero bound does not bound): calls, tokens and cost as
	// translator.UsageByModel counts them, sorted by cost.
	UsageByModel(ctx context.Context, project string, from, to time.Time) ([]translator.ModelUsage, error)
	// DeleteTrace removes a trace and everything in it.
	DeleteTrace(ctx context.Context, project, traceID string) error

	// CreateMetric adds a metric to a span; the store assigns the creation
	// time. Without m.ID the store assigns a new id, so every call adds a
	// metric. With m.ID the call is idempotent, keyed by (project, id): if
	// the span has a metric with that id already, that metric is returned
	// unchanged; if another span of the project has it, ErrConflict.
	CreateMetric(ctx context.Context, project, spanID string, m Metric) (Metric, error)
	// ListMetrics pages through a span's metrics, oldest first, with their
	// total; limit <= 0 means no limit. An unknown span is ErrNotFound.
	ListMetrics(ctx context.Context, project, spanID string, offset, limit int) ([]Metric, int64, error)
	GetMetric(ctx context.Context, project, spanID, metricID string) (Metric, error)
	// UpdateMetric applies the non-nil fields of u.
	UpdateMetric(ctx context.Context, project, spanID, metricID string, u MetricUpdate) (Metric, error)
	DeleteMetric(ctx context.Context, project, spanID, metricID string) error

	// AddEvent records a span event (v3 events, v2 feedback); the store
	// assigns id and creation time. With a SpanID the event belongs to that
	// span's trace (TraceID is filled in; naming another trace is
	// ErrNotFound); without, to the trace TraceID, which must exist.
	AddEvent(ctx context.Context, project string, e Event) (Event, error)
	// ListEvents returns the events of a span, or of every span of a trace
	// when spanID is empty, optionally of one kind, oldest first. An
	// unknown span or trace is ErrNotFound.
	ListEvents(ctx context.Context, project, traceID, spanID, kind string) ([]Event, error)

	// PendingForward returns up to limit outbox entries: completed spans not
	// yet accepted by the next consumer, and spans still running that were
	// last written before incompleteBefore (forwarded as incomplete),
	// completed ones first, across all projects. Reading does not remove
	// entries: the caller forwards one batch at a time and marks it.
	PendingForward(ctx context.Context, limit int, incompleteBefore time.Time) ([]Pending, error)
	// MarkForwarded removes entries from the outbox once the next consumer
	// accepted them. An entry whose span was written again since (another
	// Version) stays, so the newer write is forwarded too; unknown keys are
	// ignored.
	MarkForwarded(ctx context.Context, keys []PendingKey) error

	// Close releases the store.
	Close() error
}

// Trace is a trace's spans with their metrics, and its roll-up.
type Trace struct {
	Summary translator.TraceSummary
	Spans   []translator.Span
	// Metrics by span id.
	Metrics map[string][]Metric
}

// TraceQuery filters and pages the trace list. Zero values do not filter.
type TraceQuery struct {
	// Name is a case-insensitive substring of the trace name.
	Name string
	// Status is translator.StatusOK, StatusError or StatusRunning.
	Status string
	// MinDuration and MaxDuration bound TraceSummary.Duration(), which is
	// zero while the trace runs.
	MinDuration, MaxDuration time.Duration
	// MinCost and MaxCost bound the trace cost in USD (0 for a trace
	// without cost); nil does not filter.
	MinCost, MaxCost *float64
	// Tag keeps traces whose root carries the tag (exact match).
	Tag string
	// Model, User, Session and Service keep traces with a span of that
	// model (answering or requested), user id, session id or OTel
	// service.name (exact match).
	Model, User, Session, Service string
	// From and To bound the trace start time: From <= start < To.
	From, To time.Time
	Offset   int
	// Limit is 1..100; outside that range, or with a negative Offset,
	// ListTraces returns an error.
	Limit int
}

// CheckPage refuses a page ListTraces does not serve: Limit outside
// 1..100 or a negative Offset.
func (q *TraceQuery) CheckPage() error {
	if q.Limit < 1 || q.Limit > 100 {
		return fmt.Errorf("limit %d outside 1..100", q.Limit)
	}
	if q.Offset < 0 {
		return fmt.Errorf("negative offset %d", q.Offset)
	}
	return nil
}

// Facets are what the Model, User, Session and Service filters match of a
// span: "model:<model>" (and "model:<requested model>"), "user:<id>",
// "session:<id>", "service:<service.name>".
func Facets(s *translator.Span) []string {
	var out []string
	if s.Model != "" {
		out = append(out, "model:"+s.Model)
	}
	if s.RequestModel != "" && s.RequestModel != s.Model {
		out = append(out, "model:"+s.RequestModel)
	}
	if s.UserID != "" {
		out = append(out, "user:"+s.UserID)
	}
	if s.SessionID != "" {
		out = append(out, "session:"+s.SessionID)
	}
	if svc := translator.ServiceName(s); svc != "" {
		out = append(out, "service:"+svc)
	}
	return out
}

// QueryFacets are the facets q requires of a trace.
func QueryFacets(q *TraceQuery) []string {
	var out []string
	if q.Model != "" {
		out = append(out, "model:"+q.Model)
	}
	if q.User != "" {
		out = append(out, "user:"+q.User)
	}
	if q.Session != "" {
		out = append(out, "session:"+q.Session)
	}
	if q.Service != "" {
		out = append(out, "service:"+q.Service)
	}
	return out
}

// Metric is an evaluation of a span.
type Metric struct {
	ID        string
	SpanID    string
	Dimension string
	Value     float64
	Comment   *string
	CreatedAt time.Time
}

// SpanMetricID is the id UpsertSpans stores s.Metrics[i] under: its ID, or,
// for a metric without one, an id derived from the span id, the metric's
// position and its dimension, so writing the span again names it the same.
func SpanMetricID(s *translator.Span, i int) string {
	m := &s.Metrics[i]
	if m.ID != "" {
		return m.ID
	}
	return translator.MetricID(s.ID, "position/"+strconv.Itoa(i)+"/"+m.Dimension)
}

// SpanMetrics yields the metrics UpsertSpans stores for spans: each span's
// Metrics under SpanMetricID, without a creation time (the store assigns
// it). A value that is not finite is skipped: SQL stores refuse a NaN, and
// no API answer could carry one.
func SpanMetrics(spans []translator.Span) iter.Seq[Metric] {
	return func(yield func(Metric) bool) {
		for i := range spans {
			sp := &spans[i]
			for j := range sp.Metrics {
				m := &sp.Metrics[j]
				if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
					continue
				}
				out := Metric{ID: SpanMetricID(sp, j), SpanID: sp.ID, Dimension: m.Dimension, Value: m.Value}
				if m.Comment != "" {
					c := m.Comment
					out.Comment = &c
				}
				if !yield(out) {
					return
				}
			}
		}
	}
}

// MetricUpdate changes the non-nil fields of a metric.
type MetricUpdate struct {
	Dimension *string
	Value     *float64
	Comment   *string
}

// Event is a span event: feedback, evaluation or guardrail (v3), with an
// opaque JSON object as data.
type Event struct {
	ID        string
	TraceID   string
	SpanID    string
	Kind      string
	Source    string
	Data      []byte // a JSON object
	CreatedAt time.Time
}

// PendingKey identifies one outbox entry.
type PendingKey struct {
	Project string
	SpanID  string
	// Version distinguishes writes of the same span, so a span updated
	// while its forward was in flight is forwarded again.
	Version int64
}

// Pending is a span waiting to be handed to the pipeline.
type Pending struct {
	Key  PendingKey
	Span translator.Span
	// Incomplete is set when the span is forwarded before it ended.
	Incomplete bool
}
