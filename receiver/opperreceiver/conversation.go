package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"errors"
	"net/http"
	"strings"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// errNoContent is the answer for a generation without content: nothing
// to replay, though the trace is there.
var errNoContent = &apiError{status: http.StatusConflict,
	msg: "this trace has no content to replay: it was stored under metadata retention, " +
		"or its instrumentation recorded no input, output or instructions for the generation"}

// getConversation serves GET /v3/traces/{trace_id}/conversation?span=:
// the conversation of generation span, or of the trace's last generation,
// ready to replay (translator.BuildConversation), in data.
func (a *api) getConversation(w http.ResponseWriter, r *http.Request, project string) error {
	spanID, e := spanParam(r)
	if e != nil {
		return e
	}
	tr, err := a.store.GetTrace(r.Context(), project, pathID(r, "trace_id"))
	if err != nil {
		return notFound(err, "Trace")
	}
	c, err := translator.BuildConversation(tr.Spans, spanID)
	switch {
	case errors.Is(err, translator.ErrNoGeneration) && spanID != "":
		return &apiError{status: http.StatusNotFound, msg: "span " + spanID + " is not a generation of this trace"}
	case errors.Is(err, translator.ErrNoGeneration):
		return &apiError{status: http.StatusNotFound, msg: "this trace has no generation to replay"}
	case errors.Is(err, translator.ErrNoContent):
		return errNoContent
	case err != nil:
		return err
	}
	return a.writeJSON(w, http.StatusOK, opperapi.Envelope[translator.Conversation]{Data: c})
}

// spanParam reads the optional span query parameter, a span id in its
// canonical form; present, it must be one a client could have chosen.
func spanParam(r *http.Request) (string, *apiError) {
	q := r.URL.Query()
	if !q.Has("span") {
		return "", nil
	}
	id := strings.TrimSpace(q.Get("span"))
	switch {
	case id == "":
		return "", errInvalid("string_too_short", "String should have at least 1 character", "query", "span")
	case len(id) > maxIDBytes:
		return "", errInvalid("string_too_long", "String should have at most 256 bytes", "query", "span")
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", errInvalid("string_pattern_mismatch", "String must not contain control characters", "query", "span")
	}
	return translator.CanonicalID(id), nil
}
