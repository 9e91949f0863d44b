package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"net/http"
	"strings"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// maxKindBytes bounds an event kind.
const maxKindBytes = 64

// createSpanV3 serves POST /v3/spans: the server assigns the span id, and
// the trace id of a root; 200 with {"data":{id,trace_id,name,parent_id,type}}.
func (a *api) createSpanV3(w http.ResponseWriter, r *http.Request, project string) error {
	var req opperapi.CreateSpanRequestV3
	if e := readJSON(a, w, r, &req); e != nil {
		return e
	}
	if strings.TrimSpace(req.Name) == "" {
		return errInvalid("missing", "Field required: name must be a non-empty string", "body", "name")
	}
	if e := firstErr(checkID(req.TraceID, "trace_id"), checkID(req.ParentID, "parent_id"),
		checkTime(req.StartTime, "start_time"), checkTime(req.EndTime, "end_time")); e != nil {
		return e
	}
	s, err := translator.FromCreateV3(&req)
	if err != nil {
		return errInvalid("dict_type", "Input should be a valid dictionary: "+err.Error(), "body")
	}
	s.ID = translator.NewID()
	if s.StartTime.IsZero() {
		s.StartTime = a.now().UTC()
	}
	a.finishSpan(project, &s)
	if err := a.resolveTraceID(r.Context(), project, &s, nil); err != nil {
		return err
	}
	if err := a.upsert(r.Context(), project, []translator.Span{s}, a.forwardFor(r)); err != nil {
		return err
	}
	resp := opperapi.CreateSpanResponseV3{ID: s.ID, TraceID: s.TraceID, Name: s.Name}
	if s.ParentID != "" {
		resp.ParentID = &s.ParentID
	}
	if s.Type != "" {
		resp.Type = &s.Type
	}
	return a.writeJSON(w, http.StatusOK, opperapi.Envelope[opperapi.CreateSpanResponseV3]{Data: resp})
}

// getSpanV3 serves GET /v3/spans/{span_id}.
func (a *api) getSpanV3(w http.ResponseWriter, r *http.Request, project string) error {
	s, err := a.store.GetSpan(r.Context(), project, pathID(r, "span_id"))
	if err != nil {
		return notFound(err, "Span")
	}
	return a.writeJSON(w, http.StatusOK, opperapi.Envelope[opperapi.SpanV3]{Data: translator.ToSpanV3(&s)})
}

// updateSpanV3 serves PATCH /v3/spans/{span_id}: 200 with the updated span
// in data (the SDKs ignore the body and accept 200 as well as 204).
func (a *api) updateSpanV3(w http.ResponseWriter, r *http.Request, project string) error {
	var req opperapi.UpdateSpanRequestV3
	if e := readJSON(a, w, r, &req); e != nil {
		return e
	}
	if e := checkTime(req.EndTime, "end_time"); e != nil {
		return e
	}
	s, err := a.update(r.Context(), project, pathID(r, "span_id"), a.forwardFor(r), func(s *translator.Span) error {
		if err := translator.ApplyUpdateV3(s, &req); err != nil {
			return errInvalid("dict_type", "Input should be a valid dictionary: "+err.Error(), "body")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return a.writeJSON(w, http.StatusOK, opperapi.Envelope[opperapi.SpanV3]{Data: translator.ToSpanV3(&s)})
}

// deleteSpanV3 serves DELETE /v3/spans/{span_id}: 204.
func (a *api) deleteSpanV3(w http.ResponseWriter, r *http.Request, project string) error {
	if err := a.store.DeleteSpan(r.Context(), project, pathID(r, "span_id")); err != nil {
		return notFound(err, "Span")
	}
	return writeNoContent(w)
}

// listSpanEvents serves GET /v3/spans/{span_id}/events?kind=.
func (a *api) listSpanEvents(w http.ResponseWriter, r *http.Request, project string) error {
	s, err := a.store.GetSpan(r.Context(), project, pathID(r, "span_id"))
	if err != nil {
		return notFound(err, "Span")
	}
	events, err := a.store.ListEvents(r.Context(), project, s.TraceID, s.ID, strings.TrimSpace(r.URL.Query().Get("kind")))
	if err != nil {
		return err
	}
	return a.writeJSON(w, http.StatusOK, eventList(events))
}

// createSpanEvent serves POST /v3/spans/{span_id}/events: body
// {"kind", "source"?, "data"?}; 200 with the event in data.
func (a *api) createSpanEvent(w http.ResponseWriter, r *http.Request, project string) error {
	var req opperapi.CreateEventRequestV3
	if e := readJSON(a, w, r, &req); e != nil {
		return e
	}
	kind := strings.TrimSpace(req.Kind)
	if kind == "" || len(kind) > maxKindBytes {
		return errInvalid("missing", "Field required: kind must be a non-empty string of at most 64 bytes", "body", "kind")
	}
	source := eventSourceAPI
	if req.Source != nil && strings.TrimSpace(*req.Source) != "" {
		source = *req.Source
	}
	data := []byte(req.Data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	ev, err := a.store.AddEvent(r.Context(), project,
		store.Event{SpanID: pathID(r, "span_id"), Kind: kind, Source: source, Data: data})
	if err != nil {
		return notFound(err, "Span")
	}
	return a.writeJSON(w, http.StatusOK, opperapi.Envelope[opperapi.EventV3]{Data: toEventV3(&ev)})
}

// listTracesV3 serves GET /v3/traces: {"data":[...],"meta":{"total_count"}}.
func (a *api) listTracesV3(w http.ResponseWriter, r *http.Request, project string) error {
	q, e := parseTraceQuery(r.URL.Query())
	if e != nil {
		return e
	}
	sums, total, err := a.store.ListTraces(r.Context(), project, q)
	if err != nil {
		return err
	}
	out := opperapi.List[opperapi.TraceListItemV3]{Meta: opperapi.ListMeta{TotalCount: total}, Data: make([]opperapi.TraceListItemV3, len(sums))}
	for i := range sums {
		out.Data[i] = translator.ToTraceListItemV3(&sums[i])
	}
	return a.writeJSON(w, http.StatusOK, out)
}

// getTraceV3 serves GET /v3/traces/{trace_id}: the trace in data and the
// same fields at the top level, for the Python SDK that reads them there.
func (a *api) getTraceV3(w http.ResponseWriter, r *http.Request, project string) error {
	tr, err := a.store.GetTrace(r.Context(), project, pathID(r, "trace_id"))
	if err != nil {
		return notFound(err, "Trace")
	}
	events, err := a.store.ListEvents(r.Context(), project, tr.Summary.TraceID, "", "")
	if err != nil {
		return err
	}
	t := opperapi.TraceV3{
		TraceListItemV3: translator.ToTraceListItemV3(&tr.Summary),
		Spans:           make([]opperapi.SpanV3, len(tr.Spans)),
		Events:          eventList(events).Data,
	}
	for i := range tr.Spans {
		t.Spans[i] = translator.ToSpanV3(&tr.Spans[i])
	}
	return a.writeJSON(w, http.StatusOK, opperapi.TraceResponseV3{Data: t, TraceV3: t})
}

// deleteTraceV3 serves DELETE /v3/traces/{trace_id}: 204.
func (a *api) deleteTraceV3(w http.ResponseWriter, r *http.Request, project string) error {
	if err := a.store.DeleteTrace(r.Context(), project, pathID(r, "trace_id")); err != nil {
		return notFound(err, "Trace")
	}
	return writeNoContent(w)
}

// listTraceEvents serves GET /v3/traces/{trace_id}/events?kind=.
func (a *api) listTraceEvents(w http.ResponseWriter, r *http.Request, project string) error {
	traceID := pathID(r, "trace_id")
	if _, err := a.store.GetTrace(r.Context(), project, traceID); err != nil {
		return notFound(err, "Trace")
	}
	events, err := a.store.ListEvents(r.Context(), project, traceID, "", strings.TrimSpace(r.URL.Query().Get("kind")))
	if err != nil {
		return err
	}
	return a.writeJSON(w, http.StatusOK, eventList(events))
}

func eventList(events []store.Event) opperapi.List[opperapi.EventV3] {
	out := opperapi.List[opperapi.EventV3]{Meta: opperapi.ListMeta{TotalCount: int64(len(events))}, Data: make([]opperapi.EventV3, len(events))}
	for i := range events {
		out.Data[i] = toEventV3(&events[i])
	}
	return out
}

func toEventV3(e *store.Event) opperapi.EventV3 {
	id := e.SpanID
	return opperapi.EventV3{ID: e.ID, SpanID: e.SpanID, SpanUUID: &id, Kind: e.Kind, Source: e.Source,
		Data: opperapi.Object(e.Data), CreatedAt: opperapi.TimePtr(e.CreatedAt)}
}
