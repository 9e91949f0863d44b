package explorer

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opperotel/bridge/translator"
)

// pageSize is the list's default page; `limit` (up to 100) changes it.
const pageSize = 50

// filterKeys are the list's query parameters, the API's filters.
var filterKeys = []string{"name", "status", "min_duration_ms", "max_duration_ms", "min_cost", "max_cost", "tag",
	"model", "user", "session", "service", "from", "to"}

type listView struct {
	Filter  url.Values
	Active  bool // a filter is set
	Error   string
	Rows    []traceRow
	Total   int64
	First   int // 1-based index of the first row shown
	Last    int
	PrevURL string
	NextURL string
	Ranges  []rangeLink
	// Live is set on the first page, which the script refreshes.
	Live bool
	// UsageURL is the usage by model over the list's time range.
	UsageURL string
}

type rangeLink struct {
	Label  string
	URL    string
	Active bool
}

type traceRow struct {
	ID          string
	Name        string
	Status      string
	Start       time.Time
	Duration    string
	Composition string
	Tokens      int64
	Cost        float64
	HasCost     bool
	ErrorSpans  int64
	Input       string
	Output      string
}

func (e *Explorer) list(r *http.Request, project string) (string, any, error) {
	v := r.URL.Query()
	view := listView{Filter: url.Values{}}
	for _, k := range filterKeys {
		if s := strings.TrimSpace(v.Get(k)); s != "" {
			view.Filter.Set(k, s)
			view.Active = true
		}
	}
	view.Ranges = e.ranges("/", view.Filter)
	uv := url.Values{}
	for _, k := range []string{"from", "to"} {
		if s := view.Filter.Get(k); s != "" {
			uv.Set(k, s)
		}
	}
	view.UsageURL = pageURL("/usage", uv)
	qv := url.Values{}
	for k, vals := range v {
		qv[k] = vals
	}
	if qv.Get("limit") == "" {
		qv.Set("limit", strconv.Itoa(pageSize))
	}
	q, err := e.opts.ParseQuery(qv)
	if err != nil {
		view.Error = errorText(err)
		return "list", view, &pageError{status: http.StatusBadRequest, view: view}
	}
	sums, total, err := e.opts.Store.ListTraces(r.Context(), project, q)
	if err != nil {
		return "", nil, err
	}
	view.Total = total
	view.Live = q.Offset == 0
	view.Rows = make([]traceRow, len(sums))
	for i := range sums {
		view.Rows[i] = newTraceRow(&sums[i])
	}
	if len(sums) > 0 {
		view.First, view.Last = q.Offset+1, q.Offset+len(sums)
	}
	page := func(offset int) string {
		u := url.Values{}
		for k, vals := range view.Filter {
			u[k] = vals
		}
		if qv.Get("limit") != strconv.Itoa(pageSize) {
			u.Set("limit", qv.Get("limit"))
		}
		if offset > 0 {
			u.Set("offset", strconv.Itoa(offset))
		}
		return listURL(u)
	}
	if q.Offset > 0 {
		view.PrevURL = page(max(0, q.Offset-q.Limit))
	}
	if int64(q.Offset+len(sums)) < total {
		view.NextURL = page(q.Offset + q.Limit)
	}
	return "list", view, nil
}

func listURL(u url.Values) string { return pageURL("/", u) }

// pageURL is path with u as its query.
func pageURL(path string, u url.Values) string {
	if len(u) == 0 {
		return path
	}
	return path + "?" + u.Encode()
}

// ranges are the quick time-range links of the page at path: the filters
// as they are, with `from` set that far back (and `to` cleared).
func (e *Explorer) ranges(path string, f url.Values) []rangeLink {
	now := e.opts.Now().UTC()
	links := []struct {
		label string
		d     time.Duration
	}{{"Last hour", time.Hour}, {"24 hours", 24 * time.Hour}, {"7 days", 7 * 24 * time.Hour}, {"All time", 0}}
	out := make([]rangeLink, len(links))
	for i, l := range links {
		u := url.Values{}
		for k, vals := range f {
			if k != "from" && k != "to" {
				u[k] = vals
			}
		}
		if l.d > 0 {
			// Whole minutes, so the link is the same for a minute and
			// pages can be compared.
			u.Set("from", now.Add(-l.d).Truncate(time.Minute).Format(time.RFC3339))
		}
		out[i] = rangeLink{Label: l.label, URL: pageURL(path, u), Active: l.d == 0 && f.Get("from") == "" && f.Get("to") == ""}
	}
	return out
}

func newTraceRow(s *translator.TraceSummary) traceRow {
	row := traceRow{ID: s.TraceID, Name: s.Name, Status: s.Status, Start: s.StartTime,
		Composition: composition(s.SpanCount, s.TypeCounts), Tokens: s.TotalTokens, Cost: s.Cost, HasCost: s.HasCost,
		ErrorSpans: s.ErrorSpans}
	if s.Status != translator.StatusRunning {
		row.Duration = formatDuration(s.Duration())
	}
	if row.Name == "" {
		row.Name = "(unnamed trace)"
	}
	if s.Input != nil {
		row.Input = preview(*s.Input, translator.InputSide)
	}
	if s.Output != nil {
		row.Output = preview(*s.Output, translator.OutputSide)
	}
	return row
}

// preview is one line of content for the list: the last user turn of a
// conversation's input, the assistant's answer of its output, else the
// text itself.
func preview(content string, side translator.MessageSide) string {
	const n = 140
	msgs, ok := translator.NormalizeMessages(content, side)
	if !ok {
		return clip(content, n)
	}
	want := "user"
	if side == translator.OutputSide {
		want = "assistant"
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == want {
			if s := messageText(&msgs[i]); s != "" {
				return clip(s, n)
			}
		}
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if s := messageText(&msgs[i]); s != "" {
			return clip(s, n)
		}
	}
	return clip(content, n)
}

// messageText is a message's text, or its tool calls as name(arguments).
func messageText(m *translator.Message) string {
	var b strings.Builder
	for _, p := range m.Parts {
		switch p.Type {
		case translator.PartText:
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(p.Content)
		case translator.PartToolCall:
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("→ " + p.Name + "(" + string(p.Arguments) + ")")
		}
	}
	return b.String()
}

// pageError renders a page with its view but another status (a list with
// a bad filter is still the list, with the message above it).
type pageError struct {
	status int
	view   any
}

func (e *pageError) Error() string { return http.StatusText(e.status) }

// errorText is a filter's error as the page shows it: the parameter and
// what is wrong with it.
func errorText(err error) string { return strings.TrimPrefix(err.Error(), "query.") }
