package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// Event kinds this receiver records for v2 calls that have no store of
// their own.
const (
	eventKindFeedback       = "feedback"
	eventKindDatasetExample = "dataset_example"
	eventSourceAPI          = "api"
)

// datasetNamespace derives the per-project dataset id of save_examples.
var datasetNamespace = uuid.MustParse("6f1c3a8e-5b0d-4e61-9a57-3f0f2d7c9b10")

// decodeCreateV2 turns one v2 create body into a span ready to store,
// except for its trace id, which needs the store (resolveTraceID).
func (a *api) decodeCreateV2(body []byte, project string) (translator.Span, *apiError) {
	var req opperapi.CreateSpanRequest
	if e := decodeJSON(body, &req); e != nil {
		return translator.Span{}, e
	}
	return a.spanFromCreateV2(&req, project)
}

// decodeBatch decodes a batch body in one pass when every item is valid
// (reqs), else splits it into items to decode one by one (items), so a bad
// item gets its own error and does not fail the others.
func decodeBatch(body []byte) ([]opperapi.CreateSpanRequest, []json.RawMessage, *apiError) {
	var reqs []opperapi.CreateSpanRequest
	if json.Unmarshal(body, &reqs) == nil && reqs != nil {
		return reqs, nil, nil
	}
	var items []json.RawMessage
	if e := decodeJSON(body, &items); e != nil {
		if e.status == http.StatusUnprocessableEntity {
			return nil, nil, errInvalid("list_type", "Input should be a valid list of span create bodies", "body")
		}
		return nil, nil, e
	}
	if items == nil { // the body was null
		return nil, nil, errInvalid("list_type", "Input should be a valid list of span create bodies", "body")
	}
	return nil, items, nil
}

// spanFromCreateV2 validates a decoded v2 create body and builds its span.
func (a *api) spanFromCreateV2(req *opperapi.CreateSpanRequest, project string) (translator.Span, *apiError) {
	if strings.TrimSpace(req.Name) == "" {
		return translator.Span{}, errInvalid("missing", "Field required: name must be a non-empty string", "body", "name")
	}
	for _, c := range []*apiError{
		checkID(req.ID, "id"), checkID(req.TraceID, "trace_id"), checkID(req.ParentID, "parent_id"),
		checkTime(req.StartTime, "start_time"), checkTime(req.EndTime, "end_time"),
	} {
		if c != nil {
			return translator.Span{}, c
		}
	}
	s, err := translator.FromCreateV2(req)
	if err != nil {
		return translator.Span{}, errInvalid("dict_type", "Input should be a valid dictionary: "+err.Error(), "body", "meta")
	}
	if s.ID == "" {
		s.ID = translator.NewID()
	}
	if s.ParentID == s.ID {
		s.ParentID = ""
	}
	if s.StartTime.IsZero() {
		s.StartTime = a.now().UTC()
	}
	a.finishSpan(project, &s)
	return s, nil
}

// createSpanV2 serves POST /v2/spans: an idempotent upsert, 200 with the span.
func (a *api) createSpanV2(w http.ResponseWriter, r *http.Request, project string) error {
	body, e := a.readBody(w, r)
	if e != nil {
		return e
	}
	s, e := a.decodeCreateV2(body, project)
	if e != nil {
		return e
	}
	if err := a.resolveTraceID(r.Context(), project, &s, nil); err != nil {
		return err
	}
	if err := a.upsert(r.Context(), project, []translator.Span{s}, a.forwardFor(r)); err != nil {
		return err
	}
	return a.writeJSON(w, http.StatusOK, translator.ToSpanV2(&s))
}

// createSpansBatch serves POST /v2/spans/batch: a JSON array of create
// bodies, one result per item; a bad item does not fail the others.
func (a *api) createSpansBatch(w http.ResponseWriter, r *http.Request, project string) error {
	body, e := a.readBody(w, r)
	if e != nil {
		return e
	}
	reqs, items, e := decodeBatch(body)
	if e != nil {
		return e
	}
	n := max(len(reqs), len(items))
	resp := opperapi.BatchResponse{Results: make([]opperapi.BatchItemResult, n)}
	spans := make([]translator.Span, 0, n)
	okIdx := make([]int, 0, n)
	known := make(map[string]string, n)
	for i := range n {
		var s translator.Span
		var e *apiError
		if reqs != nil {
			s, e = a.spanFromCreateV2(&reqs[i], project)
		} else {
			s, e = a.decodeCreateV2(items[i], project)
		}
		if e != nil {
			resp.Results[i] = itemError(i, e)
			continue
		}
		if s.TraceID != "" {
			known[s.ID] = s.TraceID
		}
		spans = append(spans, s)
		okIdx = append(okIdx, i)
	}
	// Trace ids after the whole batch is known, so a child listed before
	// its parent still finds the parent's trace.
	for j := range spans {
		if err := a.resolveTraceID(r.Context(), project, &spans[j], known); err != nil {
			return err
		}
		known[spans[j].ID] = spans[j].TraceID
	}
	if len(spans) > 0 {
		if err := a.upsert(r.Context(), project, spans, a.forwardFor(r)); err != nil {
			return err
		}
	}
	for j, i := range okIdx {
		resp.Results[i] = opperapi.BatchItemResult{Index: i, Status: http.StatusOK, ID: spans[j].ID}
	}
	return a.writeJSON(w, http.StatusOK, resp)
}

func itemError(i int, e *apiError) opperapi.BatchItemResult {
	var detail any = e.msg
	if len(e.issues) > 0 {
		detail = e.issues
	}
	body := opperapi.NewError(e.status, detail)
	return opperapi.BatchItemResult{Index: i, Status: e.status, Error: &body}
}

// getSpanV2 serves GET /v2/spans/{span_id}: the span and its latest feedback.
func (a *api) getSpanV2(w http.ResponseWriter, r *http.Request, project string) error {
	s, err := a.store.GetSpan(r.Context(), project, pathID(r, "span_id"))
	if err != nil {
		return notFound(err, "Span")
	}
	resp := opperapi.GetSpanResponse{Span: translator.ToSpanV2(&s)}
	events, err := a.store.ListEvents(r.Context(), project, s.TraceID, s.ID, eventKindFeedback)
	if err != nil {
		return err
	}
	if n := len(events); n > 0 {
		var fb opperapi.Feedback
		if json.Unmarshal(events[n-1].Data, &fb) == nil {
			resp.Feedback = &fb
		}
	}
	return a.writeJSON(w, http.StatusOK, resp)
}

// updateSpanV2 serves PATCH /v2/spans/{span_id}: 200 with the full span.
func (a *api) updateSpanV2(w http.ResponseWriter, r *http.Request, project string) error {
	var req opperapi.UpdateSpanRequest
	if e := readJSON(a, w, r, &req); e != nil {
		return e
	}
	if req.Name != nil && strings.TrimSpace(*req.Name) == "" {
		return errInvalid("string_too_short", "name must not be empty", "body", "name")
	}
	if e := firstErr(checkTime(req.StartTime, "start_time"), checkTime(req.EndTime, "end_time")); e != nil {
		return e
	}
	s, err := a.update(r.Context(), project, pathID(r, "span_id"), a.forwardFor(r), func(s *translator.Span) error {
		if err := translator.ApplyUpdateV2(s, &req); err != nil {
			return errInvalid("dict_type", "Input should be a valid dictionary: "+err.Error(), "body", "meta")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return a.writeJSON(w, http.StatusOK, translator.ToSpanV2(&s))
}

// deleteSpanV2 serves DELETE /v2/spans/{span_id}: 204.
func (a *api) deleteSpanV2(w http.ResponseWriter, r *http.Request, project string) error {
	if err := a.store.DeleteSpan(r.Context(), project, pathID(r, "span_id")); err != nil {
		return notFound(err, "Span")
	}
	return writeNoContent(w)
}

// createMetric serves POST /v2/spans/{span_id}/metrics: 200 with the metric.
func (a *api) createMetric(w http.ResponseWriter, r *http.Request, project string) error {
	var req opperapi.CreateSpanMetricRequest
	if e := readJSON(a, w, r, &req); e != nil {
		return e
	}
	if strings.TrimSpace(req.Dimension) == "" {
		return errInvalid("missing", "Field required: dimension must be a non-empty string", "body", "dimension")
	}
	if req.Value == nil {
		return errInvalid("missing", "Field required: value must be a number", "body", "value")
	}
	spanID := pathID(r, "span_id")
	m := store.Metric{Dimension: req.Dimension, Value: *req.Value, Comment: req.Comment}
	if key := r.Header.Get(opperapi.HeaderIdempotencyKey); key != "" {
		m.ID = metricIDFromKey(spanID, key)
	}
	m, err := a.store.CreateMetric(r.Context(), project, spanID, m)
	if errors.Is(err, store.ErrConflict) {
		return &apiError{status: http.StatusConflict, msg: "Metric already exists on another span"}
	}
	if err != nil {
		return notFound(err, "Span")
	}
	return a.writeJSON(w, http.StatusOK, toSpanMetric(&m))
}

// metricIDFromKey is the id of a metric created with an Idempotency-Key:
// the key itself when it is a UUID (the exporter sends the translator's
// metric id, so a metric has the same id however it reached the store),
// else a UUID derived from the span and the key. A create without a key
// gets a new id, as the hosted API gives: deriving one from the content
// would merge two equal scores a client meant as two.
func metricIDFromKey(spanID, key string) string {
	if u, err := uuid.Parse(key); err == nil {
		return u.String()
	}
	return translator.MetricID(spanID, "idempotency-key/"+key)
}

// listMetrics serves GET /v2/spans/{span_id}/metrics.
func (a *api) listMetrics(w http.ResponseWriter, r *http.Request, project string) error {
	offset, limit, e := parsePage(r.URL.Query())
	if e != nil {
		return e
	}
	ms, total, err := a.store.ListMetrics(r.Context(), project, pathID(r, "span_id"), offset, limit)
	if err != nil {
		return notFound(err, "Span")
	}
	out := opperapi.List[opperapi.SpanMetric]{Meta: opperapi.ListMeta{TotalCount: total}, Data: make([]opperapi.SpanMetric, len(ms))}
	for i := range ms {
		out.Data[i] = toSpanMetric(&ms[i])
	}
	return a.writeJSON(w, http.StatusOK, out)
}

// getMetric serves GET /v2/spans/{span_id}/metrics/{metric_id}.
func (a *api) getMetric(w http.ResponseWriter, r *http.Request, project string) error {
	m, err := a.store.GetMetric(r.Context(), project, pathID(r, "span_id"), pathID(r, "metric_id"))
	if err != nil {
		return notFound(err, "Metric")
	}
	return a.writeJSON(w, http.StatusOK, toSpanMetric(&m))
}

// updateMetric serves PATCH /v2/spans/{span_id}/metrics/{metric_id}.
func (a *api) updateMetric(w http.ResponseWriter, r *http.Request, project string) error {
	var req opperapi.UpdateSpanMetricRequest
	if e := readJSON(a, w, r, &req); e != nil {
		return e
	}
	if req.Dimension != nil && strings.TrimSpace(*req.Dimension) == "" {
		return errInvalid("string_too_short", "dimension must not be empty", "body", "dimension")
	}
	m, err := a.store.UpdateMetric(r.Context(), project, pathID(r, "span_id"), pathID(r, "metric_id"),
		store.MetricUpdate{Dimension: req.Dimension, Value: req.Value, Comment: req.Comment})
	if err != nil {
		return notFound(err, "Metric")
	}
	return a.writeJSON(w, http.StatusOK, toSpanMetric(&m))
}

// deleteMetric serves DELETE /v2/spans/{span_id}/metrics/{metric_id}: 204.
func (a *api) deleteMetric(w http.ResponseWriter, r *http.Request, project string) error {
	if err := a.store.DeleteMetric(r.Context(), project, pathID(r, "span_id"), pathID(r, "metric_id")); err != nil {
		return notFound(err, "Metric")
	}
	return writeNoContent(w)
}

// submitFeedback serves POST /v2/spans/{span_id}/feedback. Feedback is a
// span event of kind feedback; save_to_dataset also records a
// dataset_example event, as save_examples does.
func (a *api) submitFeedback(w http.ResponseWriter, r *http.Request, project string) error {
	var req opperapi.SubmitFeedbackRequest
	if e := readJSON(a, w, r, &req); e != nil {
		return e
	}
	if req.Score == nil {
		return errInvalid("missing", "Field required: score must be a number", "body", "score")
	}
	spanID := pathID(r, "span_id")
	data, _ := json.Marshal(opperapi.Feedback{Score: *req.Score, Comment: req.Comment})
	if _, err := a.store.AddEvent(r.Context(), project,
		store.Event{SpanID: spanID, Kind: eventKindFeedback, Source: eventSourceAPI, Data: data}); err != nil {
		return notFound(err, "Span")
	}
	resp := opperapi.SubmitFeedbackResponse{SpanID: spanID, Score: *req.Score, Comment: req.Comment}
	if req.SaveToDataset != nil && *req.SaveToDataset {
		if _, err := a.saveExample(r.Context(), project, spanID); err != nil {
			return notFound(err, "Span")
		}
		resp.ExampleSaved = true
	}
	return a.writeJSON(w, http.StatusOK, resp)
}

// saveExamples serves POST /v2/spans/{span_id}/save_examples (201). This
// receiver has no datasets: it records a dataset_example event holding the
// span's input and output under a dataset id derived from the project, and
// answers with those ids.
func (a *api) saveExamples(w http.ResponseWriter, r *http.Request, project string) error {
	resp, err := a.saveExample(r.Context(), project, pathID(r, "span_id"))
	if err != nil {
		return notFound(err, "Span")
	}
	return a.writeJSON(w, http.StatusCreated, resp)
}

func (a *api) saveExample(ctx context.Context, project, spanID string) (opperapi.SaveToDatasetResponse, error) {
	s, err := a.store.GetSpan(ctx, project, spanID)
	if err != nil {
		return opperapi.SaveToDatasetResponse{}, err
	}
	resp := opperapi.SaveToDatasetResponse{
		DatasetID: uuid.NewSHA1(datasetNamespace, []byte(project)).String(),
		Input:     s.Input, Output: s.Output,
	}
	data, _ := json.Marshal(map[string]any{"dataset_id": resp.DatasetID, "input": s.Input, "output": s.Output})
	ev, err := a.store.AddEvent(ctx, project,
		store.Event{SpanID: s.ID, Kind: eventKindDatasetExample, Source: eventSourceAPI, Data: data})
	if err != nil {
		return opperapi.SaveToDatasetResponse{}, err
	}
	resp.DatasetEntryID = ev.ID
	return resp, nil
}

// listTracesV2 serves GET /v2/traces.
func (a *api) listTracesV2(w http.ResponseWriter, r *http.Request, project string) error {
	q, e := parseTraceQuery(r.URL.Query())
	if e != nil {
		return e
	}
	sums, total, err := a.store.ListTraces(r.Context(), project, q)
	if err != nil {
		return err
	}
	out := opperapi.List[opperapi.TraceListItem]{Meta: opperapi.ListMeta{TotalCount: total}, Data: make([]opperapi.TraceListItem, len(sums))}
	for i := range sums {
		out.Data[i] = translator.ToTraceListItem(&sums[i], false)
	}
	return a.writeJSON(w, http.StatusOK, out)
}

// getTraceV2 serves GET /v2/traces/{trace_id}: the roll-up with every span
// as a SpanSchema (content in data, as strings) and its metrics.
func (a *api) getTraceV2(w http.ResponseWriter, r *http.Request, project string) error {
	tr, err := a.store.GetTrace(r.Context(), project, pathID(r, "trace_id"))
	if err != nil {
		return notFound(err, "Trace")
	}
	out := opperapi.Trace{TraceListItem: translator.ToTraceListItem(&tr.Summary, true), Spans: make([]opperapi.SpanSchema, len(tr.Spans))}
	for i := range tr.Spans {
		var md []opperapi.SpanMetricData
		for _, m := range tr.Metrics[tr.Spans[i].ID] {
			md = append(md, opperapi.SpanMetricData{ID: m.ID, Dimension: m.Dimension, Value: m.Value,
				Comment: m.Comment, CreatedAt: opperapi.NewTime(m.CreatedAt)})
		}
		out.Spans[i] = translator.ToSpanSchema(&tr.Spans[i], md)
	}
	return a.writeJSON(w, http.StatusOK, out)
}

func toSpanMetric(m *store.Metric) opperapi.SpanMetric {
	return opperapi.SpanMetric{ID: m.ID, SpanID: m.SpanID, Dimension: m.Dimension, Value: m.Value,
		Comment: m.Comment, CreatedAt: opperapi.NewTime(m.CreatedAt)}
}

// notFound turns store.ErrNotFound into a 404 naming what was missing.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound(what)
	}
	return err
}

func firstErr(errs ...*apiError) *apiError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
