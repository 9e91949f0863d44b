package explorer

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/opperotel/bridge/receiver/opperreceiver/internal/playground"
	"github.com/opperotel/bridge/translator"
)

// Playground runs edited conversations against configured models; nil when the receiver has no playground::providers.
type Playground interface {
	Models() []playground.Model
	ServeRun(w http.ResponseWriter, r *http.Request, project string)
}

// RunPath is where the conversation page's script posts a run: under the
// explorer's own prefix, so it can never meet an API route.
const RunPath = AssetPrefix + "playground/runs"

// maxRunBody bounds a run request: a long conversation with tool results,
// not an upload.
const maxRunBody = 4 << 20

// playgroundView is the playground panel of the conversation page.
type playgroundView struct {
	// Enabled is false when the receiver has no playground providers: the
	// panel then says how to configure them.
	Enabled bool
	// Missing explains why there is nothing to replay (no generation, or
	// content not retained); empty when there is.
	Missing string
	TraceID string
	SpanID  string
	// Generations lets the reader pick another generation of the trace.
	Generations []generationOption
	Models      []modelOption
	Turns       []editTurn
	// Original is the generation's answer: the trailing assistant turns.
	Original []translator.Message
	// Temperature, MaxTokens and TopP prefill the parameter inputs.
	Temperature, MaxTokens, TopP string
	Tools                        string
	// Data is the conversation for the script, in a JSON script element.
	Data playgroundData
}

// playgroundData is what the script reads: the conversation as built, and
// which message each editable turn started as.
type playgroundData struct {
	TraceID      string                  `json:"trace_id"`
	SpanID       string                  `json:"span_id"`
	Conversation translator.Conversation `json:"conversation"`
	// Edited is how many of the messages are in the editable list; the rest
	// are the original answer.
	Edited  int    `json:"edited"`
	RunPath string `json:"run_path"`
}

type generationOption struct {
	ID       string
	Label    string
	Selected bool
}

type modelOption struct {
	Name     string
	Provider string
	Selected bool
}

// editTurn is one message as form fields.
type editTurn struct {
	Index int
	Role  string
	Name  string
	Parts []editPart
}

// editPart is a text part in a text area, or any other part as its JSON.
type editPart struct {
	Text bool
	// Value is the text, or the part's indented JSON.
	Value string
	Label string
}

var turnRoles = []string{"system", "user", "assistant", "tool"}

// playgroundPanel builds the panel for generation spanID ("" is the last)
// of a trace's spans.
func (e *Explorer) playgroundPanel(traceID string, spans []translator.Span, spanID string) (playgroundView, error) {
	v := playgroundView{Enabled: e.opts.Playground != nil, TraceID: traceID}
	c, err := translator.BuildConversation(spans, spanID)
	switch {
	case errors.Is(err, translator.ErrNoGeneration) && spanID != "":
		return v, notFound("Generation")
	case errors.Is(err, translator.ErrNoGeneration):
		v.Missing = "This trace has no LLM call to replay."
		return v, nil
	case errors.Is(err, translator.ErrNoContent):
		v.Missing = "This generation's messages were not retained (this project's retention keeps metadata only: " +
			"model, tokens, cost, timings), so there is nothing to replay."
	case err != nil:
		return v, err
	}
	v.SpanID = c.SpanID
	if v.SpanID == "" {
		v.SpanID = spanID
	}
	for i := range spans {
		s := &spans[i]
		if s.Type != translator.TypeGeneration {
			continue
		}
		label := s.Name
		if s.Model != "" {
			label += " · " + s.Model
		}
		v.Generations = append(v.Generations, generationOption{ID: s.ID, Label: label, Selected: s.ID == v.SpanID})
	}
	if v.Missing != "" || !v.Enabled {
		return v, nil
	}
	v.Models = modelOptions(e.opts.Playground.Models(), c.Model)

	edited := originalAnswerStart(c.Messages)
	for i, m := range c.Messages[:edited] {
		v.Turns = append(v.Turns, newEditTurn(i, m))
	}
	v.Original = c.Messages[edited:]
	v.Temperature = paramString(c.Parameters, "temperature")
	v.MaxTokens = paramString(c.Parameters, "max_tokens")
	if v.MaxTokens == "" {
		v.MaxTokens = paramString(c.Parameters, "max_completion_tokens")
	}
	v.TopP = paramString(c.Parameters, "top_p")
	v.Tools = "[]"
	if len(c.Tools) > 0 {
		b, _ := json.MarshalIndent(c.Tools, "", "  ")
		v.Tools = string(b)
	}
	v.Data = playgroundData{TraceID: traceID, SpanID: v.SpanID, Conversation: c, Edited: edited, RunPath: RunPath}
	return v, nil
}

// originalAnswerStart is the index of the generation's answer: the
// assistant turns at the end. A conversation of assistant turns only is
// all editable.
func originalAnswerStart(msgs []translator.Message) int {
	i := len(msgs)
	for i > 0 && msgs[i-1].Role == "assistant" {
		i--
	}
	if i == 0 {
		return len(msgs)
	}
	return i
}

// modelOptions lists the configured models; the generation's own is
// selected when configured, else the first.
func modelOptions(models []playground.Model, spanModel string) []modelOption {
	out := make([]modelOption, len(models))
	picked := -1
	for i, m := range models {
		out[i] = modelOption{Name: m.Name, Provider: m.Provider}
		if picked < 0 && m.Name == spanModel {
			picked = i
		}
	}
	if picked < 0 {
		picked = 0
	}
	if len(out) > 0 {
		out[picked].Selected = true
	}
	return out
}

func newEditTurn(i int, m translator.Message) editTurn {
	t := editTurn{Index: i, Role: m.Role, Name: m.Name}
	for _, p := range m.Parts {
		if p.Type == translator.PartText {
			t.Parts = append(t.Parts, editPart{Text: true, Value: p.Content, Label: "Text"})
			continue
		}
		b, _ := json.MarshalIndent(p, "", "  ")
		label := strings.ReplaceAll(p.Type, "_", " ")
		if p.Name != "" {
			label += " " + p.Name
		}
		t.Parts = append(t.Parts, editPart{Value: string(b), Label: label + " (JSON)"})
	}
	if len(t.Parts) == 0 {
		t.Parts = []editPart{{Text: true, Label: "Text"}}
	}
	return t
}

// paramString is a recorded parameter as an input's value.
func paramString(params map[string]any, key string) string {
	switch v := params[key].(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case json.Number:
		return v.String()
	case string:
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return v
		}
	}
	return ""
}

// run serves POST RunPath for the page's script: the signed-in project's
// run, handed to the playground (which answers JSON errors or a stream).
func (e *Explorer) run(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	if e.opts.Playground == nil {
		e.renderError(w, r, &httpError{status: http.StatusNotFound, title: "Playground not configured",
			msg: "This receiver has no playground providers; add playground::providers to the opper receiver's configuration."})
		return
	}
	project, ok := e.project(r)
	if !ok {
		writeRunError(w, http.StatusUnauthorized, "unauthorized", "Sign in again: your session has ended.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRunBody)
	e.opts.Playground.ServeRun(w, r, project)
}

// writeRunError answers in the API's v3 error shape, as ServeRun does.
func writeRunError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
