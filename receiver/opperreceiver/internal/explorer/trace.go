package explorer

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// collapseAbove is the trace size from which the tree opens folded below
// the root's children (and along the selected span's path), so a trace of
// tens of thousands of spans opens as a few dozen visible rows.
const collapseAbove = 500

// traceHeader is the head of a trace's pages: its list row and its size.
type traceHeader struct {
	traceRow
	SpanCount int64
}

func newTraceHeader(s *translator.TraceSummary) traceHeader {
	return traceHeader{traceRow: newTraceRow(s), SpanCount: s.SpanCount}
}

type traceView struct {
	Trace    traceHeader
	Rows     []treeRow
	Selected string
	Detail   *detailView
	// Folded says the tree opened folded (a large trace).
	Folded    bool
	ChildPage int
	// Ticks label the waterfall's time axis.
	Ticks []tick
	// Generation is a generation of the trace to open in the playground:
	// the selected span when it is one, else the last; "" when none.
	Generation string
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
	// More, on a row of its own, is the number of ParentID's children not
	// rendered yet, from MoreOffset on.
	More       int
	MoreOffset int
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
	t := newTree(tr.Spans, view.Selected)
	view.Rows, view.Folded, view.ChildPage = t.allRows(), t.folded, childPage
	view.Ticks = ticks(&tr.Summary)
	for i := range tr.Spans {
		if s := &tr.Spans[i]; s.Type == translator.TypeGeneration && view.Generation != view.Selected {
			view.Generation = s.ID
		}
	}
	if sel != nil {
		d, err := e.detail(r, project, sel, tr.Spans, tr.Metrics[sel.ID])
		if err != nil {
			return "", nil, err
		}
		view.Detail = d
	}
	return "trace", view, nil
}

// tree is a trace's spans arranged for the tree view: children by start
// time, each span's bar placed on the trace's time axis. A span whose
// parent is not in the trace (not arrived yet, or another service's) is
// shown as a root.
//
// A large trace (over collapseAbove spans) opens folded: only the roots,
// their children and the path to the selected span are rendered; a folded
// span's children are fetched when it is unfolded, and a span's children
// come childPage at a time. So the page holds a few hundred rows whatever
// the trace's size, and the browser never lays out tens of thousands.
type tree struct {
	spans    []translator.Span
	index    map[string]int
	children [][]int
	roots    []int
	start    time.Time
	total    time.Duration
	folded   bool
	onPath   map[int]bool
	selected string
}

// childPage is how many children of one span a large trace renders at
// once; moreRows pages are larger, as the person asked for them.
const (
	childPage = 200
	morePage  = 1000
)

func newTree(spans []translator.Span, selected string) *tree {
	t := &tree{spans: spans, index: make(map[string]int, len(spans)), children: make([][]int, len(spans)),
		folded: len(spans) > collapseAbove, onPath: map[int]bool{}, selected: selected}
	for i := range spans {
		t.index[spans[i].ID] = i
	}
	var end time.Time
	for i := range spans {
		s := &spans[i]
		if p, ok := t.index[s.ParentID]; ok && s.ParentID != "" && p != i {
			t.children[p] = append(t.children[p], i)
		} else {
			t.roots = append(t.roots, i)
		}
		if t.start.IsZero() || s.StartTime.Before(t.start) {
			t.start = s.StartTime
		}
		if e := spanEnd(s); e.After(end) {
			end = e
		}
	}
	t.total = end.Sub(t.start)
	// GetTrace returns spans by start time, so children are in order
	// already; a stable sort keeps it so for other callers.
	byStart := func(a, b int) int { return spans[a].StartTime.Compare(spans[b].StartTime) }
	for _, c := range t.children {
		slices.SortStableFunc(c, byStart)
	}
	slices.SortStableFunc(t.roots, byStart)
	if i, ok := t.index[selected]; ok {
		for n := 0; n <= len(spans); n++ {
			t.onPath[i] = true
			p, ok := t.index[spans[i].ParentID]
			if !ok || spans[i].ParentID == "" || t.onPath[p] {
				break
			}
			i = p
		}
	}
	return t
}

// depthOf counts a span's ancestors in the trace.
func (t *tree) depthOf(i int) int {
	d := 0
	seen := map[int]bool{i: true}
	for {
		p, ok := t.index[t.spans[i].ParentID]
		if !ok || t.spans[i].ParentID == "" || seen[p] {
			return d
		}
		seen[p] = true
		i, d = p, d+1
	}
}

// render appends the rows of the spans in ids, at depth, and their open
// subtrees. ids[from:to] is the window to show; the rest become "more"
// rows, except that a span on the selected path is always shown.
func (t *tree) render(rows []treeRow, parentID string, ids []int, from, page, depth int, visited []bool) []treeRow {
	to := min(len(ids), from+page)
	more := func(offset, count int) {
		if count > 0 {
			rows = append(rows, treeRow{More: count, MoreOffset: offset, ParentID: parentID, Depth: depth})
		}
	}
	shown := from
	for k := from; k < len(ids); k++ {
		if k >= to && !t.onPath[ids[k]] {
			continue
		}
		if k > shown {
			more(shown, k-shown)
		}
		shown = k + 1
		i := ids[k]
		if visited[i] {
			continue // a cycle of parent ids: show each span once
		}
		visited[i] = true
		row := t.row(i, depth)
		rows = append(rows, row)
		if row.Open {
			rows = t.render(rows, row.ID, t.children[i], 0, t.page(), depth+1, visited)
		}
	}
	more(shown, len(ids)-shown)
	return rows
}

func (t *tree) row(i, depth int) treeRow {
	s := &t.spans[i]
	row := treeRow{ID: s.ID, ParentID: s.ParentID, Name: s.Name, Type: s.Type, Depth: depth,
		Children: len(t.children[i]), Error: s.Error != nil, Running: s.Running(),
		Selected: s.ID == t.selected, Model: s.Model, Cost: s.Cost}
	row.Open = row.Children > 0 && (!t.folded || depth == 0 || t.onPath[i])
	if row.Name == "" {
		row.Name = "(unnamed span)"
	}
	if s.Usage != nil && !s.Aggregate {
		row.Tokens = s.Usage.Total
	}
	if !s.Running() {
		row.Duration = formatDuration(s.Duration())
	}
	if t.total > 0 {
		row.Left = 100 * float64(s.StartTime.Sub(t.start)) / float64(t.total)
		row.Width = 100 * float64(spanEnd(s).Sub(s.StartTime)) / float64(t.total)
	} else {
		row.Width = 100
	}
	row.Left = min(max(row.Left, 0), 100)
	row.Width = min(max(row.Width, 0.2), 100-row.Left)
	return row
}

// allRows renders the tree from its roots.
func (t *tree) allRows() []treeRow {
	visited := make([]bool, len(t.spans))
	rows := t.render(make([]treeRow, 0, min(len(t.spans), 4*childPage)), "", t.roots, 0, t.page(), 0, visited)
	// Spans only reachable through a cycle never met a root.
	if !t.folded {
		for i := range t.spans {
			if !visited[i] {
				rows = t.render(rows, "", []int{i}, 0, 1, 0, visited)
			}
		}
	}
	return rows
}

// childRows renders count children of parent from offset (parent "" are
// the roots), for the page's script to insert when a folded span opens or
// "more" is asked for.
func (t *tree) childRows(parent string, offset, count int) ([]treeRow, bool) {
	ids, depth := t.roots, 0
	if parent != "" {
		i, ok := t.index[parent]
		if !ok {
			return nil, false
		}
		ids, depth = t.children[i], t.depthOf(i)+1
	}
	if offset < 0 || offset > len(ids) {
		return nil, false
	}
	return t.render(nil, parent, ids, offset, count, depth, make([]bool, len(t.spans))), true
}

// page is how many children of a span are rendered at first: all of them
// in a small trace.
func (t *tree) page() int {
	if t.folded {
		return childPage
	}
	return len(t.spans) + 1
}

// spanEnd is a span's end, or its start while it runs (its bar is then a
// sliver, marked running).
func spanEnd(s *translator.Span) time.Time {
	if s.Running() {
		return s.StartTime
	}
	return s.EndTime
}

// ticks label the waterfall's axis at its start, middle and end: the axis
// is a third of the tree's width, too narrow for more.
func ticks(s *translator.TraceSummary) []tick {
	d := s.Duration()
	if d <= 0 {
		return nil
	}
	out := make([]tick, 0, 3)
	for i := range 3 {
		f := float64(i) / 2
		// Axis labels are short: "5 s", not "5.00 s".
		label := strings.Replace(formatDuration(time.Duration(f*float64(d))), ".00 ", " ", 1)
		out = append(out, tick{Left: 100 * f, Label: label})
	}
	out[0].Label = "0"
	return out
}

// treeFragment serves rows of the tree for the page's script: GET
// /traces/{trace_id}/tree?parent={span_id}&offset=N&count=N, the children
// of a span that was folded, or the next page of them.
func (e *Explorer) treeFragment(w http.ResponseWriter, r *http.Request) {
	project, ok := e.fragmentProject(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	offset, err1 := strconv.Atoi(q.Get("offset"))
	count, err2 := strconv.Atoi(q.Get("count"))
	if q.Get("offset") == "" {
		offset, err1 = 0, nil
	}
	if q.Get("count") == "" {
		count, err2 = childPage, nil
	}
	if err1 != nil || err2 != nil || offset < 0 || count < 1 {
		http.Error(w, "offset and count must be whole numbers, count at least 1", http.StatusBadRequest)
		return
	}
	tr, err := e.opts.Store.GetTrace(r.Context(), project, translator.CanonicalID(r.PathValue("trace_id")))
	if err != nil {
		e.renderError(w, r, err)
		return
	}
	t := newTree(tr.Spans, "")
	rows, ok := t.childRows(translator.CanonicalID(q.Get("parent")), offset, min(count, morePage))
	if !ok {
		e.renderError(w, r, notFound("Span"))
		return
	}
	e.renderFragment(w, r, "tree-rows", treeRowsView{TraceID: tr.Summary.TraceID, Rows: rows})
}

type treeRowsView struct {
	TraceID string
	Rows    []treeRow
}

// detailFragment serves the selected span's detail alone, for the page's
// script to swap in without reloading a large tree: GET
// /traces/{trace_id}/spans/{span_id}.
func (e *Explorer) detailFragment(w http.ResponseWriter, r *http.Request) {
	project, ok := e.fragmentProject(w, r)
	if !ok {
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
