package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"net/http"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/playground"
)

// errPlaygroundOff answers the playground's endpoints when no provider is
// configured.
var errPlaygroundOff = &apiError{status: http.StatusNotFound,
	msg: "the playground is not configured: add playground::providers to the opper receiver's config " +
		"(an OpenAI-compatible endpoint, its api_key and models)"}

// playgroundRun serves POST /v3/playground/runs: the service reads the
// request and writes the answer, JSON or server-sent events.
func (a *api) playgroundRun(w http.ResponseWriter, r *http.Request, project string) error {
	if a.playground == nil {
		return errPlaygroundOff
	}
	a.playground.ServeRun(w, r, project)
	return nil
}

// playgroundModels serves GET /v3/playground/models: the models a run may
// name, with their providers, in configuration order.
func (a *api) playgroundModels(w http.ResponseWriter, _ *http.Request, _ string) error {
	if a.playground == nil {
		return errPlaygroundOff
	}
	return a.writeJSON(w, http.StatusOK, opperapi.Envelope[[]playground.Model]{Data: a.playground.Models()})
}
