// Package memory is an in-memory store.Store for tests: the receiver's
// handler and forwarder tests run against it, and it doubles as a reference
// for the store contract. It keeps everything in maps under one mutex and
// scans for queries, so it is meant for small data sets.
package memory // import "github.com/opperotel/bridge/store/memory"

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("memory store: closed")

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	mu       sync.Mutex
	closed   bool
	projects map[string]*project
	version  int64
	// outbox holds the spans that may be pending: complete and not yet
	// forwarded, or running and not yet forwarded as incomplete.
	outbox map[outboxKey]struct{}
	// now is the clock, replaceable in tests.
	now func() time.Time

	// maxTraces bounds the traces kept over all projects (0: no bound);
	// created lists traces in the order they were first written, each with
	// the generation it was created in, so a trace deleted and written
	// again is not evicted by its old entry.
	maxTraces int
	traces    int
	created   []traceGen
	gen       map[traceKey]int64
	nextGen   int64
}

type traceKey struct{ project, traceID string }

type traceGen struct {
	key traceKey
	gen int64
}

type outboxKey struct{ project, spanID string }

type spanEntry struct {
	span    translator.Span
	version int64
	written time.Time
	forward bool
	// forwardedComplete is set once the ended span was accepted;
	// forwardedIncomplete once a running version was.
	forwardedComplete, forwardedIncomplete bool
}

type project struct {
	spans   map[string]*spanEntry
	traces  map[string]map[string]struct{}
	metrics map[string][]store.Metric // by span id, oldest first
	// metricSpan maps every metric id of the project to its span: ids
	// are unique per project, as the SQLite backend's index makes them.
	metricSpan map[string]string
	events     []store.Event
}

var _ store.Store = (*Store)(nil)

// New returns an empty store without a bound.
func New() *Store {
	return &Store{projects: make(map[string]*project), outbox: make(map[outboxKey]struct{}), now: time.Now,
		gen: make(map[traceKey]int64)}
}

// NewBounded returns an empty store that keeps at most maxTraces traces:
// writing a new trace beyond that drops the oldest written one, with its
// spans, metrics, events and outbox entries.
func NewBounded(maxTraces int) *Store {
	s := New()
	s.maxTraces = maxTraces
	return s
}

// SetClock replaces the store's clock (tests of incomplete-span timeouts).
func (s *Store) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

func (s *Store) project(name string, create bool) *project {
	p := s.projects[name]
	if p == nil && create {
		p = &project{spans: make(map[string]*spanEntry), traces: make(map[string]map[string]struct{}),
			metrics: make(map[string][]store.Metric), metricSpan: make(map[string]string)}
		s.projects[name] = p
	}
	return p
}

func (s *Store) lock() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// UpsertSpans implements store.Store.
func (s *Store) UpsertSpans(ctx context.Context, projectName string, spans []translator.Span, forward bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for i := range spans {
		if spans[i].ID == "" || spans[i].TraceID == "" {
			return fmt.Errorf("memory store: span %d has no id or trace id", i)
		}
	}
	s.upsertLocked(projectName, spans, forward)
	return nil
}

// UpdateSpan implements store.Store under the store's lock.
func (s *Store) UpdateSpan(ctx context.Context, projectName, spanID string, forward bool, fn func(*translator.Span) error) (translator.Span, error) {
	if err := ctx.Err(); err != nil {
		return translator.Span{}, err
	}
	if err := s.lock(); err != nil {
		return translator.Span{}, err
	}
	defer s.mu.Unlock()
	e := s.entry(projectName, spanID)
	if e == nil {
		return translator.Span{}, store.ErrNotFound
	}
	sp := cloneSpan(&e.span)
	if err := fn(&sp); err != nil {
		return translator.Span{}, err
	}
	if sp.ID != e.span.ID || sp.TraceID != e.span.TraceID {
		return translator.Span{}, fmt.Errorf("memory store: update of span %s changed its id or trace id", spanID)
	}
	s.upsertLocked(projectName, []translator.Span{sp}, forward)
	return sp, nil
}

// upsertLocked writes valid spans; the caller holds s.mu.
func (s *Store) upsertLocked(projectName string, spans []translator.Span, forward bool) {
	if len(spans) == 0 {
		return
	}
	p := s.project(projectName, true)
	now := s.now()
	for i := range spans {
		sp := cloneSpan(&spans[i])
		s.version++
		e := p.spans[sp.ID]
		if e == nil {
			e = &spanEntry{}
			p.spans[sp.ID] = e
		} else if e.span.TraceID != sp.TraceID {
			if p.removeFromTrace(e.span.TraceID, sp.ID) {
				s.traceRemoved(traceKey{projectName, e.span.TraceID})
			}
			for j := range p.events {
				if p.events[j].SpanID == sp.ID {
					p.events[j].TraceID = sp.TraceID
				}
			}
		}
		e.span, e.version, e.written, e.forward = sp, s.version, now, forward
		tr := p.traces[sp.TraceID]
		if tr == nil {
			tr = make(map[string]struct{})
			p.traces[sp.TraceID] = tr
			s.traceCreated(traceKey{projectName, sp.TraceID})
		}
		tr[sp.ID] = struct{}{}
		for m := range store.SpanMetrics([]translator.Span{sp}) {
			p.addSpanMetric(m, now)
		}
		key := outboxKey{projectName, sp.ID}
		if forward && (!sp.Running() && !e.forwardedComplete || sp.Running() && !e.forwardedIncomplete) {
			s.outbox[key] = struct{}{}
		} else {
			delete(s.outbox, key)
		}
	}
}

// addSpanMetric stores a metric of store.SpanMetrics unless its id is
// stored already (for this span or another).
func (p *project) addSpanMetric(m store.Metric, now time.Time) {
	if _, ok := p.metricSpan[m.ID]; ok {
		return
	}
	m.CreatedAt = now.UTC()
	p.metrics[m.SpanID] = append(p.metrics[m.SpanID], m)
	p.metricSpan[m.ID] = m.SpanID
}

func (p *project) removeFromTrace(traceID, spanID string) bool {
	if tr := p.traces[traceID]; tr != nil {
		delete(tr, spanID)
		if len(tr) == 0 {
			delete(p.traces, traceID)
			return true
		}
	}
	return false
}

// traceCreated counts a new trace and, over the bound, evicts the oldest
// ones. The trace being written is the newest, so it is never evicted here.
func (s *Store) traceCreated(k traceKey) {
	s.traces++
	s.nextGen++
	s.gen[k] = s.nextGen
	if s.maxTraces <= 0 {
		return
	}
	s.created = append(s.created, traceGen{k, s.nextGen})
	for s.traces > s.maxTraces && len(s.created) > 0 {
		old := s.created[0]
		s.created = s.created[1:]
		if s.gen[old.key] != old.gen {
			continue // deleted (and perhaps written again) since
		}
		if p := s.project(old.key.project, false); p != nil {
			s.deleteTrace(old.key.project, p, old.key.traceID)
		}
	}
	// The queue's backing array only grows at its end; copy it down once
	// the dead front is as large as the live part.
	if len(s.created) > 0 && cap(s.created) > 2*len(s.created)+1024 {
		s.created = slices.Clone(s.created)
	}
}

// traceRemoved forgets a trace that lost its last span.
func (s *Store) traceRemoved(k traceKey) {
	s.traces--
	delete(s.gen, k)
}

// GetSpan implements store.Store.
func (s *Store) GetSpan(_ context.Context, projectName, spanID string) (translator.Span, error) {
	if err := s.lock(); err != nil {
		return translator.Span{}, err
	}
	defer s.mu.Unlock()
	e := s.entry(projectName, spanID)
	if e == nil {
		return translator.Span{}, store.ErrNotFound
	}
	return cloneSpan(&e.span), nil
}

func (s *Store) entry(projectName, spanID string) *spanEntry {
	p := s.project(projectName, false)
	if p == nil {
		return nil
	}
	return p.spans[spanID]
}

// DeleteSpan implements store.Store.
func (s *Store) DeleteSpan(_ context.Context, projectName, spanID string) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	p := s.project(projectName, false)
	if p == nil || p.spans[spanID] == nil {
		return store.ErrNotFound
	}
	s.deleteSpan(projectName, p, spanID)
	return nil
}

func (s *Store) deleteSpan(projectName string, p *project, spanID string) {
	e := p.spans[spanID]
	delete(p.spans, spanID)
	if p.removeFromTrace(e.span.TraceID, spanID) {
		s.traceRemoved(traceKey{projectName, e.span.TraceID})
	}
	for _, m := range p.metrics[spanID] {
		delete(p.metricSpan, m.ID)
	}
	delete(p.metrics, spanID)
	p.events = slices.DeleteFunc(p.events, func(ev store.Event) bool { return ev.SpanID == spanID })
	delete(s.outbox, outboxKey{projectName, spanID})
}

func (p *project) traceSpans(traceID string) []translator.Span {
	ids := p.traces[traceID]
	spans := make([]translator.Span, 0, len(ids))
	for id := range ids {
		spans = append(spans, cloneSpan(&p.spans[id].span))
	}
	slices.SortFunc(spans, func(a, b translator.Span) int {
		if c := a.StartTime.Compare(b.StartTime); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return spans
}

// GetTrace implements store.Store.
func (s *Store) GetTrace(_ context.Context, projectName, traceID string) (store.Trace, error) {
	if err := s.lock(); err != nil {
		return store.Trace{}, err
	}
	defer s.mu.Unlock()
	p := s.project(projectName, false)
	if p == nil || len(p.traces[traceID]) == 0 {
		return store.Trace{}, store.ErrNotFound
	}
	spans := p.traceSpans(traceID)
	metrics := make(map[string][]store.Metric)
	for _, sp := range spans {
		if ms := p.metrics[sp.ID]; len(ms) > 0 {
			metrics[sp.ID] = slices.Clone(ms)
		}
	}
	return store.Trace{Summary: translator.RollUp(spans), Spans: spans, Metrics: metrics}, nil
}

// ListTraces implements store.Store.
func (s *Store) ListTraces(_ context.Context, projectName string, q store.TraceQuery) ([]translator.TraceSummary, int64, error) {
	if err := s.lock(); err != nil {
		return nil, 0, err
	}
	defer s.mu.Unlock()
	if err := q.CheckPage(); err != nil {
		return nil, 0, fmt.Errorf("memory store: list traces: %w", err)
	}
	p := s.project(projectName, false)
	if p == nil {
		return nil, 0, nil
	}
	var matches []translator.TraceSummary
	want := store.QueryFacets(&q)
	for traceID := range p.traces {
		spans := p.traceSpans(traceID)
		sum := translator.RollUp(spans)
		if matchQuery(&sum, &q) && hasFacets(spans, want) {
			matches = append(matches, sum)
		}
	}
	slices.SortFunc(matches, func(a, b translator.TraceSummary) int {
		if c := b.StartTime.Compare(a.StartTime); c != 0 {
			return c
		}
		return cmp.Compare(a.TraceID, b.TraceID)
	})
	total := int64(len(matches))
	start := min(max(q.Offset, 0), len(matches))
	end := len(matches)
	if q.Limit > 0 {
		end = min(start+q.Limit, end)
	}
	page := slices.Clone(matches[start:end])
	// A list carries previews of the roots' content, as the SQLite store's.
	for i := range page {
		page[i].Input, page[i].Output = previewHead(page[i].Input), previewHead(page[i].Output)
	}
	return page, total, nil
}

func matchQuery(t *translator.TraceSummary, q *store.TraceQuery) bool {
	switch {
	case q.Name != "" && !strings.Contains(strings.ToLower(t.Name), strings.ToLower(q.Name)):
		return false
	case q.Status != "" && t.Status != q.Status:
		return false
	case q.MinDuration > 0 && t.Duration() < q.MinDuration:
		return false
	case q.MaxDuration > 0 && t.Duration() > q.MaxDuration:
		return false
	case q.MinCost != nil && t.Cost < *q.MinCost:
		return false
	case q.MaxCost != nil && t.Cost > *q.MaxCost:
		return false
	case q.Tag != "" && !slices.Contains(t.Tags, q.Tag):
		return false
	case !q.From.IsZero() && t.StartTime.Before(q.From):
		return false
	case !q.To.IsZero() && !t.StartTime.Before(q.To):
		return false
	}
	return true
}

// DeleteTrace implements store.Store.
func (s *Store) DeleteTrace(_ context.Context, projectName, traceID string) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	p := s.project(projectName, false)
	if p == nil || len(p.traces[traceID]) == 0 {
		return store.ErrNotFound
	}
	s.deleteTrace(projectName, p, traceID)
	return nil
}

func (s *Store) deleteTrace(projectName string, p *project, traceID string) {
	for id := range p.traces[traceID] {
		s.deleteSpan(projectName, p, id)
	}
	p.events = slices.DeleteFunc(p.events, func(ev store.Event) bool { return ev.TraceID == traceID })
}

// CreateMetric implements store.Store.
func (s *Store) CreateMetric(_ context.Context, projectName, spanID string, m store.Metric) (store.Metric, error) {
	if err := s.lock(); err != nil {
		return store.Metric{}, err
	}
	defer s.mu.Unlock()
	p := s.project(projectName, false)
	if p == nil || p.spans[spanID] == nil {
		return store.Metric{}, store.ErrNotFound
	}
	if m.ID != "" {
		if owner, ok := p.metricSpan[m.ID]; ok {
			if owner != spanID {
				return store.Metric{}, store.ErrConflict
			}
			_, i := s.metric(projectName, spanID, m.ID)
			return p.metrics[spanID][i], nil
		}
	} else {
		m.ID = translator.NewID()
	}
	m.SpanID, m.CreatedAt = spanID, s.now().UTC()
	if m.Comment != nil {
		c := *m.Comment
		m.Comment = &c
	}
	p.metrics[spanID] = append(p.metrics[spanID], m)
	p.metricSpan[m.ID] = spanID
	return m, nil
}

// ListMetrics implements store.Store.
func (s *Store) ListMetrics(_ context.Context, projectName, spanID string, offset, limit int) ([]store.Metric, int64, error) {
	if err := s.lock(); err != nil {
		return nil, 0, err
	}
	defer s.mu.Unlock()
	p := s.project(projectName, false)
	if p == nil || p.spans[spanID] == nil {
		return nil, 0, store.ErrNotFound
	}
	ms := p.metrics[spanID]
	start := min(max(offset, 0), len(ms))
	end := len(ms)
	if limit > 0 {
		end = min(start+limit, end)
	}
	return slices.Clone(ms[start:end]), int64(len(ms)), nil
}

func (s *Store) metric(projectName, spanID, metricID string) (*project, int) {
	p := s.project(projectName, false)
	if p == nil {
		return nil, -1
	}
	return p, slices.IndexFunc(p.metrics[spanID], func(m store.Metric) bool { return m.ID == metricID })
}

// GetMetric implements store.Store.
func (s *Store) GetMetric(_ context.Context, projectName, spanID, metricID string) (store.Metric, error) {
	if err := s.lock(); err != nil {
		return store.Metric{}, err
	}
	defer s.mu.Unlock()
	p, i := s.metric(projectName, spanID, metricID)
	if i < 0 {
		return store.Metric{}, store.ErrNotFound
	}
	return p.metrics[spanID][i], nil
}

// UpdateMetric implements store.Store.
func (s *Store) UpdateMetric(_ context.Context, projectName, spanID, metricID string, u store.MetricUpdate) (store.Metric, error) {
	if err := s.lock(); err != nil {
		return store.Metric{}, err
	}
	defer s.mu.Unlock()
	p, i := s.metric(projectName, spanID, metricID)
	if i < 0 {
		return store.Metric{}, store.ErrNotFound
	}
	m := &p.metrics[spanID][i]
	if u.Dimension != nil {
		m.Dimension = *u.Dimension
	}
	if u.Value != nil {
		m.Value = *u.Value
	}
	if u.Comment != nil {
		c := *u.Comment
		m.Comment = &c
	}
	return *m, nil
}

// DeleteMetric implements store.Store.
func (s *Store) DeleteMetric(_ context.Context, projectName, spanID, metricID string) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	p, i := s.metric(projectName, spanID, metricID)
	if i < 0 {
		return store.ErrNotFound
	}
	p.metrics[spanID] = slices.Delete(p.metrics[spanID], i, i+1)
	delete(p.metricSpan, metricID)
	return nil
}

// AddEvent implements store.Store.
func (s *Store) AddEvent(_ context.Context, projectName string, e store.Event) (store.Event, error) {
	if err := s.lock(); err != nil {
		return store.Event{}, err
	}
	defer s.mu.Unlock()
	p := s.project(projectName, false)
	if p == nil {
		return store.Event{}, store.ErrNotFound
	}
	switch {
	case e.SpanID != "":
		sp := p.spans[e.SpanID]
		if sp == nil || e.TraceID != "" && e.TraceID != sp.span.TraceID {
			return store.Event{}, store.ErrNotFound
		}
		e.TraceID = sp.span.TraceID
	case len(p.traces[e.TraceID]) == 0:
		return store.Event{}, store.ErrNotFound
	}
	e.ID, e.CreatedAt = translator.NewID(), s.now().UTC()
	e.Data = slices.Clone(e.Data)
	p.events = append(p.events, e)
	return e, nil
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(_ context.Context, projectName, traceID, spanID, kind string) ([]store.Event, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	p := s.project(projectName, false)
	if p == nil || spanID != "" && p.spans[spanID] == nil || traceID != "" && len(p.traces[traceID]) == 0 {
		return nil, store.ErrNotFound
	}
	var out []store.Event
	for _, e := range p.events {
		if (spanID == "" || e.SpanID == spanID) && (traceID == "" || e.TraceID == traceID) && (kind == "" || e.Kind == kind) {
			out = append(out, e)
		}
	}
	return out, nil
}

// PendingForward implements store.Store. Entries come oldest write first.
func (s *Store) PendingForward(_ context.Context, limit int, incompleteBefore time.Time) ([]store.Pending, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	type cand struct {
		e   *spanEntry
		key outboxKey
	}
	var cands []cand
	for key := range s.outbox {
		e := s.entry(key.project, key.spanID)
		if e == nil || !e.forward {
			continue
		}
		if e.span.Running() && (e.forwardedIncomplete || !e.written.Before(incompleteBefore)) {
			continue
		}
		cands = append(cands, cand{e, key})
	}
	// Completed spans first, then incomplete ones; oldest write first.
	slices.SortFunc(cands, func(a, b cand) int {
		if ra, rb := a.e.span.Running(), b.e.span.Running(); ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.e.version, b.e.version)
	})
	if limit <= 0 {
		return nil, nil
	}
	if len(cands) > limit {
		cands = cands[:limit]
	}
	out := make([]store.Pending, len(cands))
	for i, c := range cands {
		out[i] = store.Pending{
			Key:        store.PendingKey{Project: c.key.project, SpanID: c.key.spanID, Version: c.e.version},
			Span:       cloneSpan(&c.e.span),
			Incomplete: c.e.span.Running(),
		}
	}
	return out, nil
}

// MarkForwarded implements store.Store. A key whose version is older than
// the stored span leaves the newer write pending.
func (s *Store) MarkForwarded(_ context.Context, keys []store.PendingKey) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, k := range keys {
		e := s.entry(k.Project, k.SpanID)
		if e == nil || e.version != k.Version {
			continue
		}
		if e.span.Running() {
			e.forwardedIncomplete = true
		} else {
			e.forwardedComplete = true
		}
		delete(s.outbox, outboxKey{k.Project, k.SpanID})
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// cloneSpan copies the parts of a span that callers could mutate in place,
// so the store never shares memory with them.
func previewHead(v *string) *string {
	if v == nil {
		return nil
	}
	h, _ := translator.PreviewHead(*v)
	return &h
}

func cloneSpan(sp *translator.Span) translator.Span {
	c := *sp
	c.Tags = slices.Clone(sp.Tags)
	c.Metrics = slices.Clone(sp.Metrics)
	if sp.Usage != nil {
		u := *sp.Usage
		c.Usage = &u
	}
	// The exporter maps into pooled storage that the next batch reuses:
	// nothing kept may point into it.
	if sp.Cost != nil {
		v := *sp.Cost
		c.Cost = &v
	}
	if sp.Score != nil {
		v := *sp.Score
		c.Score = &v
	}
	if sp.Meta != nil {
		c.Meta = make(translator.Meta, len(sp.Meta))
		for i, f := range sp.Meta {
			c.Meta[i] = translator.MetaField{Key: f.Key, Value: cloneAny(f.Value)}
		}
	}
	return c
}

func cloneAny(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return map[string]any(nil)
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneAny(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = cloneAny(e)
		}
		return l
	case json.RawMessage:
		return json.RawMessage(bytes.Clone(x))
	case []byte:
		return bytes.Clone(x)
	}
	return v
}

// hasFacets reports whether the spans together have every facet in want.
func hasFacets(spans []translator.Span, want []string) bool {
	for _, f := range want {
		if !slices.ContainsFunc(spans, func(s translator.Span) bool { return slices.Contains(store.Facets(&s), f) }) {
			return false
		}
	}
	return true
}

// UsageByModel implements store.Store.
func (s *Store) UsageByModel(_ context.Context, projectName string, from, to time.Time) ([]translator.ModelUsage, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	p := s.project(projectName, false)
	if p == nil {
		return nil, nil
	}
	var totals []translator.ModelUsage
	for traceID := range p.traces {
		sum, usage := translator.RollUpWithUsage(p.traceSpans(traceID))
		if !from.IsZero() && sum.StartTime.Before(from) || !to.IsZero() && !sum.StartTime.Before(to) {
			continue
		}
		for _, u := range usage {
			totals = translator.AddModelUsage(totals, u)
		}
	}
	translator.SortModelUsage(totals)
	return totals, nil
}
