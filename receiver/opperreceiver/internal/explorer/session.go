package explorer

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/opperotel/bridge/store"
)

// sessionTraces is the most traces a session page shows; the trace list
// filtered by the session has them all.
const sessionTraces = 100

type sessionView struct {
	ID      string
	Traces  []traceRow
	Total   int64
	Tokens  int64
	Cost    float64
	HasCost bool
	// ListURL is the trace list filtered by the session.
	ListURL string
}

// session serves GET /sessions/{session_id}: the traces of one session
// (gen_ai.conversation.id, Langfuse's session, the SDKs' session id), in
// the order they happened, each with its input and answer.
func (e *Explorer) session(r *http.Request, project string) (string, any, error) {
	id := r.PathValue("session_id")
	sums, total, err := e.opts.Store.ListTraces(r.Context(), project, store.TraceQuery{Session: id, Limit: sessionTraces})
	if err != nil {
		return "", nil, err
	}
	if total == 0 {
		return "", nil, notFound("Session")
	}
	view := sessionView{ID: id, Total: total, ListURL: "/?session=" + url.QueryEscape(id)}
	// The newest page, oldest first.
	slices.Reverse(sums)
	for i := range sums {
		view.Traces = append(view.Traces, newTraceRow(&sums[i]))
		view.Tokens += sums[i].TotalTokens
		view.Cost += sums[i].Cost
		view.HasCost = view.HasCost || sums[i].HasCost
	}
	return "session", view, nil
}
