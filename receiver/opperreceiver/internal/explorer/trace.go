package explorer

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// collapseAbove is the trace size from which the tree opens folded below
// the root's children (and along the selected span's path), so a trace of
// tens of thousands of spans opens as a few dozen visible rows.
const collapseAbove = 500

type traceHeader struct {
	ID          string
	Name        string
	Status      string
	Start       time.Time
	Duration    string
	Composition string
	SpanCount   int64
	Tokens      int64
	Cost        float64
	HasCost     bool
	ErrorSpans  int64
}

func newTraceHeader(s *translator.TraceSummary) traceHeader {
	h := traceHeader{ID: s.TraceID, Name: s.Name, Status: s.Status, Start: s.StartTime,
		Composition: composition(s.SpanCount, s.TypeCounts), SpanCount: s.SpanCount, Tokens: s.TotalTokens,
		Cost: s.Cost, HasCost: s.HasCost, ErrorSpans: s.ErrorSpans}
	if s.Status != translator.StatusRunning {
		h.Duration = formatDuration(s.Duration())
	}
	if h.Name == "" {
		h.Name = "(unnamed trace)"
	}
	return h
}

type traceView struct {
	Trace    traceHeader
	Rows     []treeRow
	Selected string
	Detail   *detailView
	// Folded says the tree opened folded (a large trace).
	Folded bool
	// Ticks label the waterfall's time axis.
	Ticks []tick
}

type tick struct {
	Left  float64
	Label string
}

type treeRow struct {
	ID          string
	ParentID    string
	Name        string
	Type        string
	Depth       int
	Children    int
	Open        bool // its children are shown
	Hidden      bool // an ancestor is folded
	Error       bool
	Running     bool
	Selected    bool
	Duration    string
	Model       string
	Tokens      int64
	Cost        *float64
	Left, Width float64 // the waterfall bar, in percent of the trace's span of time
}

func (e *Explorer) trace(r *http.Request, project string) (string, any, error) {
	traceID := translator.CanonicalID(r.PathValue("trace_id"))
	tr, err := e.opts.Store.GetTrace(r.Context(), project, traceID)
	if err != nil {
		return "", nil, err
	}
	selected := translator.CanonicalID(r.URL.Query().Get("span"))
	if selected == "" {
		selected = tr.Summary.RootID
	}
	view := traceView{Trace: newTraceHeader(&tr.Summary), Selected: selected}
	var sel *translator.Span
	for i := range tr.Spans {
		if tr.Spans[i].ID == selected {
			sel = &tr.Spans[i]
		}
	}
	if sel == nil && len(tr.Spans) > 0 {
		if r.URL.Query().Get("span") != "" {
			return "", nil, notFound("Span")
		}
		sel = &tr.Spans[0]
		view.Selected = sel.ID
	}
	view.Rows, view.Folded = buildTree(tr.Spans, view.Selected)
	view.Ticks = ticks(&tr.Summary)
	if sel != nil {
		d, err := e.detail(r, project, sel, tr.Spans, tr.Metrics[sel.ID])
		if err != nil {
			return "", nil, err
		}
		view.Detail = d
	}
	return "trace", view, nil
}

// buildTree orders spans depth-first, children by start time, and places
// each span's bar on the trace's time axis. A span whose parent is not in
// the trace (not arrived yet, or another service's) is shown as a root.
func buildTree(spans []translator.Span, selected string) ([]treeRow, bool) {
	index := make(map[string]int, len(spans))
	for i := range spans {
		index[spans[i].ID] = i
	}
	children := make([][]int, len(spans))
	var roots []int
	var start, end time.Time
	for i := range spans {
		s := &spans[i]
		if p, ok := index[s.ParentID]; ok && s.ParentID != "" && p != i {
			children[p] = append(children[p], i)
		} else {
			roots = append(roots, i)
		}
		if start.IsZero() || s.StartTime.Before(start) {
			start = s.StartTime
		}
		if t := spanEnd(s); t.After(end) {
			end = t
		}
	}
	// GetTrace returns spans by start time, so children are in order
	// already; a stable sort keeps it so for other callers.
	byStart := func(a, b int) int { return spans[a].StartTime.Compare(spans[b].StartTime) }
	for _, c := range children {
		slices.SortStableFunc(c, byStart)
	}
	slices.SortStableFunc(roots, byStart)

	// Unfold the path to the selected span.
	onPath := map[int]bool{}
	if i, ok := index[selected]; ok {
		seen := 0
		for {
			onPath[i] = true
			p, ok := index[spans[i].ParentID]
			if !ok || spans[i].ParentID == "" || seen > len(spans) {
				break
			}
			i = p
			seen++
		}
	}
	folded := len(spans) > collapseAbove
	total := end.Sub(start)
	rows := make([]treeRow, 0, len(spans))
	visited := make([]bool, len(spans))
	var walk func(i, depth int, hidden bool)
	walk = func(i, depth int, hidden bool) {
		if visited[i] {
			return // a cycle of parent ids: show each span once
		}
		visited[i] = true
		s := &spans[i]
		open := !folded || depth == 0 || onPath[i]
		row := treeRow{ID: s.ID, ParentID: s.ParentID, Name: s.Name, Type: s.Type, Depth: depth,
			Children: len(children[i]), Open: open, Hidden: hidden, Error: s.Error != nil, Running: s.Running(),
			Selected: s.ID == selected, Model: s.Model, Cost: s.Cost}
		if row.Name == "" {
			row.Name = "(unnamed span)"
		}
		if s.Usage != nil && !s.Aggregate {
			row.Tokens = s.Usage.Total
		}
		if !s.Running() {
			row.Duration = formatDuration(s.Duration())
		}
		if total > 0 {
			row.Left = 100 * float64(s.StartTime.Sub(start)) / float64(total)
			row.Width = 100 * float64(spanEnd(s).Sub(s.StartTime)) / float64(total)
		} else {
			row.Width = 100
		}
		row.Left = min(max(row.Left, 0), 100)
		row.Width = min(max(row.Width, 0.2), 100-row.Left)
		rows = append(rows, row)
		for _, c := range children[i] {
			walk(c, depth+1, hidden || !open)
		}
	}
	for _, i := range roots {
		walk(i, 0, false)
	}
	// Spans only reachable through a cycle never met a root.
	for i := range spans {
		if !visited[i] {
			walk(i, 0, false)
		}
	}
	return rows, folded
}

// spanEnd is a span's end, or its start while it runs (its bar is then a
// sliver, marked running).
func spanEnd(s *translator.Span) time.Time {
	if s.Running() {
		return s.StartTime
	}
	return s.EndTime
}

// ticks are five labels along the waterfall's axis.
func ticks(s *translator.TraceSummary) []tick {
	d := s.Duration()
	if d <= 0 {
		return nil
	}
	out := make([]tick, 0, 5)
	for i := range 5 {
		f := float64(i) / 4
		out = append(out, tick{Left: 100 * f, Label: formatDuration(time.Duration(f * float64(d)))})
	}
	out[0].Label = "0"
	return out
}

// detailFragment serves the selected span's detail alone, for the page's
// script to swap in without reloading a large tree: GET
// /traces/{trace_id}/spans/{span_id}.
func (e *Explorer) detailFragment(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	project, ok := e.project(r)
	if !ok {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	traceID := translator.CanonicalID(r.PathValue("trace_id"))
	s, err := e.opts.Store.GetSpan(r.Context(), project, translator.CanonicalID(r.PathValue("span_id")))
	if err == nil && s.TraceID != traceID {
		err = store.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = notFound("Span")
		}
		e.renderError(w, r, err)
		return
	}
	// The breadcrumb needs the ancestors: one look-up each, as deep as the
	// tree is, rather than the whole trace.
	chain := []translator.Span{s}
	for p := s.ParentID; p != "" && len(chain) < 256; {
		ps, err := e.opts.Store.GetSpan(r.Context(), project, p)
		if err != nil || ps.TraceID != traceID {
			break
		}
		chain = append(chain, ps)
		p = ps.ParentID
	}
	metrics, _, err := e.opts.Store.ListMetrics(r.Context(), project, s.ID, 0, 0)
	if err != nil {
		e.renderError(w, r, err)
		return
	}
	d, err := e.detail(r, project, &chain[0], chain, metrics)
	if err != nil {
		e.renderError(w, r, err)
		return
	}
	e.renderFragment(w, r, "detail", d)
}

// byStartTime orders spans as GetTrace does.
func byStartTime(a, b translator.Span) int {
	return cmp.Or(a.StartTime.Compare(b.StartTime), cmp.Compare(a.ID, b.ID))
}
