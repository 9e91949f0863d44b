package explorer

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/opperotel/bridge/translator"
)

type conversationView struct {
	Trace traceHeader
	Turns []turn
	// FromRoot says the trace has no generation, so the turns are the
	// root's input and output.
	FromRoot bool
	// Playground replays one generation (?span=, else the last) with edits.
	Playground playgroundView
}

// turn is a message and the span it was first seen in.
type turn struct {
	translator.Message
	SpanID   string
	SpanName string
	Model    string
	// Restart marks a generation whose input does not continue the
	// conversation so far (another thread of the agent).
	Restart bool
}

func (e *Explorer) conversation(r *http.Request, project string) (string, any, error) {
	tr, err := e.opts.Store.GetTrace(r.Context(), project, translator.CanonicalID(r.PathValue("trace_id")))
	if err != nil {
		return "", nil, err
	}
	view := conversationView{Trace: newTraceHeader(&tr.Summary)}
	view.Playground, err = e.playgroundPanel(tr.Summary.TraceID, tr.Spans, translator.CanonicalID(r.URL.Query().Get("span")))
	if err != nil {
		return "", nil, err
	}
	view.Turns = conversationTurns(tr.Spans)
	if len(view.Turns) == 0 {
		view.FromRoot = true
		for i := range tr.Spans {
			if tr.Spans[i].ID == tr.Summary.RootID {
				view.Turns = rootTurns(&tr.Spans[i])
			}
		}
	}
	return "conversation", view, nil
}

// conversationTurns merges the generations' messages, in start order, into
// one conversation. Each generation's input usually repeats the
// conversation so far and adds to it; only what is new is appended, then
// its output. A generation whose input does not continue the conversation
// starts a new thread, marked.
func conversationTurns(spans []translator.Span) []turn {
	var turns []turn
	var keys []string
	for i := range spans {
		s := &spans[i]
		if s.Type != translator.TypeGeneration {
			continue
		}
		var in, out []translator.Message
		if s.Input != nil {
			in, _ = translator.NormalizeMessages(*s.Input, translator.InputSide)
		}
		// Instructions the input does not carry as a system turn already
		// (conventions that keep them apart) open the conversation.
		if s.Instructions != nil && !slices.ContainsFunc(in, func(m translator.Message) bool { return m.Role == "system" }) {
			in = append([]translator.Message{{Role: "system",
				Parts: []translator.Part{{Type: translator.PartText, Content: *s.Instructions}}}}, in...)
		}
		if s.Output != nil {
			out, _ = translator.NormalizeMessages(*s.Output, translator.OutputSide)
		}
		inKeys := messageKeys(in)
		start, restart := 0, false
		switch {
		case hasPrefix(inKeys, keys):
			start = len(keys)
		case len(keys) > 0:
			restart = true
		}
		for j := start; j < len(in); j++ {
			turns = append(turns, turn{Message: in[j], SpanID: s.ID, SpanName: s.Name, Model: s.Model, Restart: restart && j == start})
		}
		if restart {
			keys = inKeys
		} else {
			keys = append(keys, inKeys[start:]...)
		}
		for j := range out {
			turns = append(turns, turn{Message: out[j], SpanID: s.ID, SpanName: s.Name, Model: s.Model,
				Restart: restart && j == 0 && start == len(in)})
		}
		keys = append(keys, messageKeys(out)...)
	}
	return turns
}

// messageKeys identify messages for the prefix match: role and parts, not
// the finish reason (outputs carry one, the next input's copy does not).
func messageKeys(msgs []translator.Message) []string {
	keys := make([]string, len(msgs))
	for i := range msgs {
		b, _ := json.Marshal(struct {
			R string
			P []translator.Part
		}{msgs[i].Role, msgs[i].Parts})
		keys[i] = string(b)
	}
	return keys
}

func hasPrefix(s, prefix []string) bool {
	return len(prefix) <= len(s) && slices.Equal(s[:len(prefix)], prefix)
}

// rootTurns shows a trace without generations as its root's input (a user
// turn) and output (an assistant turn).
func rootTurns(s *translator.Span) []turn {
	var out []turn
	add := func(c *string, side translator.MessageSide) {
		if c == nil {
			return
		}
		if msgs, ok := translator.NormalizeMessages(*c, side); ok {
			for _, m := range msgs {
				out = append(out, turn{Message: m, SpanID: s.ID, SpanName: s.Name, Model: s.Model})
			}
			return
		}
		role := "user"
		if side == translator.OutputSide {
			role = "assistant"
		}
		out = append(out, turn{Message: translator.Message{Role: role,
			Parts: []translator.Part{{Type: translator.PartText, Content: *c}}}, SpanID: s.ID, SpanName: s.Name})
	}
	add(s.Input, translator.InputSide)
	add(s.Output, translator.OutputSide)
	return out
}
