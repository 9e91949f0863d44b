package explorer

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// detailView is one span in full.
type detailView struct {
	TraceID string
	ID      string
	Name    string
	Type    string
	Crumbs  []crumb
	Facts   []fact
	// Dropped says the project's retention kept no content of the span.
	Dropped      bool
	Instructions *contentView
	Input        *contentView
	Output       *contentView
	Error        *string
	Tags         []string
	Metrics      []metricView
	Events       []eventView
	Meta         string
	// JSON is the span as the v3 API returns it, with its metrics and
	// events: what Copy span copies.
	JSON string
}

type crumb struct {
	ID   string
	Name string
	Type string
}

type fact struct {
	Label string
	Value string
	// Time, when set, is shown in the reader's time zone.
	Time time.Time
	// URL, when set, links the value: the traces or session it names.
	URL string
}

type metricView struct {
	Dimension string
	Value     string
	Comment   string
}

type eventView struct {
	Kind   string
	Source string
	Time   time.Time
	Data   string
}

// contentView is one of input, output or instructions: as chat turns when
// it is messages, else as indented JSON or text; Raw is what was stored,
// for the `{}` toggle.
type contentView struct {
	Messages []translator.Message
	JSON     string
	Text     string
	Raw      string
}

func (e *Explorer) detail(r *http.Request, project string, s *translator.Span, spans []translator.Span, metrics []store.Metric) (*detailView, error) {
	events, err := e.opts.Store.ListEvents(r.Context(), project, s.TraceID, s.ID, "")
	if err != nil {
		return nil, err
	}
	d := &detailView{TraceID: s.TraceID, ID: s.ID, Name: s.Name, Type: s.Type, Error: s.Error, Tags: s.Tags,
		Dropped: s.Meta.Value(translator.MetaRetention) == string(translator.RetentionMetadata)}
	if d.Name == "" {
		d.Name = "(unnamed span)"
	}
	d.Crumbs = crumbs(s, spans)
	d.Facts = facts(s)
	d.Input = newContent(s.Input, translator.InputSide)
	d.Output = newContent(s.Output, translator.OutputSide)
	if s.Instructions != nil {
		d.Instructions = &contentView{Text: *s.Instructions, Raw: *s.Instructions}
	}
	for _, m := range metrics {
		mv := metricView{Dimension: m.Dimension, Value: strconv.FormatFloat(m.Value, 'g', -1, 64)}
		if m.Comment != nil {
			mv.Comment = *m.Comment
		}
		d.Metrics = append(d.Metrics, mv)
	}
	for _, ev := range events {
		data, ok := prettyJSON(ev.Data)
		if !ok {
			data = string(ev.Data)
		}
		d.Events = append(d.Events, eventView{Kind: ev.Kind, Source: ev.Source, Time: ev.CreatedAt, Data: data})
	}
	wire := translator.ToSpanV3(s)
	if meta, ok := prettyJSON(wire.Meta); ok && string(wire.Meta) != "{}" {
		d.Meta = meta
	}
	d.JSON = spanJSON(wire, metrics, events)
	return d, nil
}

// spanJSON is the span's full JSON for Copy span: the v3 span with its
// metrics and events beside it.
func spanJSON(wire opperapi.SpanV3, metrics []store.Metric, events []store.Event) string {
	type metricJSON struct {
		ID        string    `json:"id"`
		Dimension string    `json:"dimension"`
		Value     float64   `json:"value"`
		Comment   *string   `json:"comment,omitempty"`
		CreatedAt time.Time `json:"created_at"`
	}
	type eventJSON struct {
		ID        string          `json:"id"`
		Kind      string          `json:"kind"`
		Source    string          `json:"source,omitempty"`
		Data      json.RawMessage `json:"data,omitempty"`
		CreatedAt time.Time       `json:"created_at"`
	}
	doc := struct {
		opperapi.SpanV3
		Metrics []metricJSON `json:"metrics,omitempty"`
		Events  []eventJSON  `json:"events,omitempty"`
	}{SpanV3: wire}
	for _, m := range metrics {
		doc.Metrics = append(doc.Metrics, metricJSON{m.ID, m.Dimension, m.Value, m.Comment, m.CreatedAt})
	}
	for _, ev := range events {
		var data json.RawMessage
		if json.Valid(ev.Data) {
			data = ev.Data
		}
		doc.Events = append(doc.Events, eventJSON{ev.ID, ev.Kind, ev.Source, data, ev.CreatedAt})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "{}"
	}
	return string(b)
}

// crumbs is the path from the trace's root down to s.
func crumbs(s *translator.Span, spans []translator.Span) []crumb {
	byID := make(map[string]*translator.Span, len(spans))
	for i := range spans {
		byID[spans[i].ID] = &spans[i]
	}
	out := []crumb{{ID: s.ID, Name: s.Name, Type: s.Type}}
	for p := byID[s.ParentID]; p != nil && len(out) < 256; p = byID[p.ParentID] {
		out = append(out, crumb{ID: p.ID, Name: p.Name, Type: p.Type})
		if p.ParentID == "" {
			break
		}
	}
	slices.Reverse(out)
	for i := range out {
		if out[i].Name == "" {
			out[i].Name = "(unnamed span)"
		}
	}
	return out
}

func facts(s *translator.Span) []fact {
	var out []fact
	add := func(label, value string) {
		if value != "" {
			out = append(out, fact{Label: label, Value: value})
		}
	}
	add("Type", typeLabel(s.Type))
	if s.Running() {
		add("Duration", "running")
	} else {
		add("Duration", formatDuration(s.Duration()))
	}
	out = append(out, fact{Label: "Started", Value: formatTime(s.StartTime), Time: s.StartTime})
	link := func(label, value, u string) {
		if value != "" {
			out = append(out, fact{Label: label, Value: value, URL: u})
		}
	}
	link("Model", s.Model, "/?model="+url.QueryEscape(s.Model))
	if s.RequestModel != "" && s.RequestModel != s.Model {
		add("Requested model", s.RequestModel)
	}
	add("Provider", s.Provider)
	if u := s.Usage; u != nil {
		tokens := formatCount(u.Total) + " total"
		if u.Input > 0 || u.Output > 0 {
			tokens += " · " + formatCount(u.Input) + " in · " + formatCount(u.Output) + " out"
		}
		if u.CacheRead > 0 {
			tokens += " · " + formatCount(u.CacheRead) + " cached"
		}
		if u.Reasoning > 0 {
			tokens += " · " + formatCount(u.Reasoning) + " reasoning"
		}
		if s.Aggregate {
			tokens += " (sum of its children)"
		}
		add("Tokens", tokens)
	}
	if s.Cost != nil {
		add("Cost", formatCost(*s.Cost))
	}
	if s.Score != nil {
		add("Score", strconv.FormatInt(*s.Score, 10))
	}
	add("Function", s.Function)
	link("User", s.UserID, "/?user="+url.QueryEscape(s.UserID))
	link("Session", s.SessionID, "/sessions/"+url.PathEscape(s.SessionID))
	svc := translator.ServiceName(s)
	link("Service", svc, "/?service="+url.QueryEscape(svc))
	add("Generation id", s.GenerationID)
	add("Span id", s.ID)
	return out
}

func newContent(c *string, side translator.MessageSide) *contentView {
	if c == nil {
		return nil
	}
	v := &contentView{Raw: *c}
	pretty, isJSON := prettyJSON([]byte(*c))
	if isJSON {
		v.Raw = pretty
	}
	if msgs, ok := translator.NormalizeMessages(*c, side); ok && isStructured(*c) {
		v.Messages = msgs
		return v
	}
	if isJSON {
		var s string
		if json.Unmarshal([]byte(*c), &s) == nil {
			v.Text = s // a JSON string: show its text
		} else {
			v.JSON = pretty
		}
		return v
	}
	v.Text = *c
	return v
}

// isStructured reports whether content is a JSON array or object: plain
// text is shown as text, not as a one-turn conversation.
func isStructured(c string) bool {
	for i := 0; i < len(c); i++ {
		switch c[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case '[', '{':
			return true
		}
		return false
	}
	return false
}
