package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/explorer"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/playground"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// maxIDBytes bounds client-chosen ids.
const maxIDBytes = 256

// api serves the Opper trace API over a store. It is an http.Handler.
type api struct {
	cfg    *Config
	store  store.Store
	logger *zap.Logger
	// notify wakes the forwarder after a write that queued spans.
	notify func()
	now    func() time.Time

	// pipeline hands completed spans to the next consumer and waits for
	// it (forward.wait_for_pipeline); nil when the outbox forwards.
	pipeline func(ctx context.Context, project string, spans []translator.Span) error

	keys    []apiKey
	maxBody int64
	mux     *http.ServeMux
	hosts   hostGuard
	// crossOrigin refuses API writes that a browser made for another
	// site's page (Sec-Fetch-Site, Origin); SDKs send neither header.
	crossOrigin *http.CrossOriginProtection
	// explorer serves the web pages; nil when explorer::enabled is false.
	explorer *explorer.Explorer
	// playground runs edited conversations; nil without
	// playground::providers.
	playground *playground.Service
	// storeDownLogged is when an unavailable store was last logged (Unix ns).
	storeDownLogged atomic.Int64
}

// apiKey is a configured key, kept only as its SHA-256 so every comparison
// takes the same time whatever the key's length.
type apiKey struct {
	sum     [sha256.Size]byte
	project string
}

// handlerFunc serves one route for an authenticated project.
type handlerFunc func(w http.ResponseWriter, r *http.Request, project string) error

func newAPI(cfg *Config, st store.Store, logger *zap.Logger, notify func()) (*api, error) {
	a := &api{cfg: cfg, store: st, logger: logger, notify: notify, now: time.Now, maxBody: cfg.ServerConfig.MaxRequestBodySize,
		hosts: newHostGuard(cfg), crossOrigin: http.NewCrossOriginProtection()}
	if a.maxBody <= 0 {
		a.maxBody = 20 << 20 // confighttp's default
	}
	if a.notify == nil {
		a.notify = func() {}
	}
	for _, k := range cfg.APIKeys {
		a.keys = append(a.keys, apiKey{sum: sha256.Sum256([]byte(normalizeKey(string(k.Key)))), project: k.Project})
	}
	if len(cfg.Playground.Providers) > 0 {
		svc, err := playground.NewService(cfg.Playground.Providers, cfg.Playground.RunsPerMinute, st, logger, nil,
			playground.WithSpanFinisher(a.finishSpan))
		if err != nil {
			return nil, fmt.Errorf("playground: %w", err)
		}
		a.playground = svc
	}
	a.mux = http.NewServeMux()
	a.routes()
	if cfg.Explorer.Enabled {
		opts := explorer.Options{
			Store: st, Logger: logger, KeysRequired: len(a.keys) > 0, ProjectForKey: a.projectForKey,
			ParseQuery: func(v url.Values) (store.TraceQuery, error) {
				q, e := parseTraceQuery(v)
				if e != nil {
					return q, e
				}
				return q, nil
			},
		}
		if a.playground != nil {
			// A nil *Service in the interface would read as configured.
			opts.Playground = a.playground
		}
		exp, err := explorer.New(opts)
		if err != nil {
			return nil, fmt.Errorf("explorer: %w", err)
		}
		a.explorer = exp
		exp.Register(a.mux)
	}
	return a, nil
}

func (a *api) routes() {
	a.route("/v2/spans", map[string]handlerFunc{http.MethodPost: a.createSpanV2})
	a.route("/v2/spans/batch", map[string]handlerFunc{http.MethodPost: a.createSpansBatch})
	a.route("/v2/spans/{span_id}", map[string]handlerFunc{
		http.MethodGet: a.getSpanV2, http.MethodPatch: a.updateSpanV2, http.MethodDelete: a.deleteSpanV2,
	})
	a.route("/v2/spans/{span_id}/metrics", map[string]handlerFunc{
		http.MethodPost: a.createMetric, http.MethodGet: a.listMetrics,
	})
	a.route("/v2/spans/{span_id}/metrics/{metric_id}", map[string]handlerFunc{
		http.MethodGet: a.getMetric, http.MethodPatch: a.updateMetric, http.MethodDelete: a.deleteMetric,
	})
	a.route("/v2/spans/{span_id}/feedback", map[string]handlerFunc{http.MethodPost: a.submitFeedback})
	a.route("/v2/spans/{span_id}/save_examples", map[string]handlerFunc{http.MethodPost: a.saveExamples})
	a.route("/v2/traces", map[string]handlerFunc{http.MethodGet: a.listTracesV2})
	a.route("/v2/traces/{trace_id}", map[string]handlerFunc{http.MethodGet: a.getTraceV2})

	a.route("/v3/spans", map[string]handlerFunc{http.MethodPost: a.createSpanV3})
	a.route("/v3/spans/{span_id}", map[string]handlerFunc{
		http.MethodGet: a.getSpanV3, http.MethodPatch: a.updateSpanV3, http.MethodDelete: a.deleteSpanV3,
	})
	a.route("/v3/spans/{span_id}/events", map[string]handlerFunc{
		http.MethodGet: a.listSpanEvents, http.MethodPost: a.createSpanEvent,
	})
	a.route("/v3/traces", map[string]handlerFunc{http.MethodGet: a.listTracesV3})
	a.route("/v3/traces/{trace_id}", map[string]handlerFunc{
		http.MethodGet: a.getTraceV3, http.MethodDelete: a.deleteTraceV3,
	})
	a.route("/v3/traces/{trace_id}/events", map[string]handlerFunc{http.MethodGet: a.listTraceEvents})
	a.route("/v3/traces/{trace_id}/conversation", map[string]handlerFunc{http.MethodGet: a.getConversation})
	a.route("/v3/playground/runs", map[string]handlerFunc{http.MethodPost: a.playgroundRun})
	a.route("/v3/playground/models", map[string]handlerFunc{http.MethodGet: a.playgroundModels})

	a.mux.Handle("/", a.authenticated(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if a.explorer != nil && versionOf(r.URL.Path) != v3 && !strings.HasPrefix(r.URL.Path, "/v2/") &&
			strings.Contains(r.Header.Get("Accept"), "text/html") {
			a.explorer.ErrorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at "+r.URL.Path+".")
			return nil
		}
		return &apiError{status: http.StatusNotFound, msg: "no such endpoint: " + r.URL.Path}
	}))
}

// route registers a path with one handler per method; other methods get a
// 405 in the version's error shape, with an Allow header.
func (a *api) route(pattern string, methods map[string]handlerFunc) {
	allowed := make([]string, 0, len(methods))
	for m := range methods {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	allow := strings.Join(allowed, ", ")
	a.mux.Handle(pattern, a.authenticated(func(w http.ResponseWriter, r *http.Request, project string) error {
		h, ok := methods[r.Method]
		if !ok {
			w.Header().Set("Allow", allow)
			return &apiError{status: http.StatusMethodNotAllowed, msg: "method " + r.Method + " is not allowed here; use " + allow}
		}
		return h(w, r, project)
	}))
}

// ServeHTTP implements http.Handler: the Host check and the API's write
// guards come before any route.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.hosts.allowed(r.Host) {
		writeError(w, versionOf(r.URL.Path), &apiError{status: http.StatusMisdirectedRequest,
			msg: "this receiver does not answer to the host " + strconv.Quote(r.Host) +
				"; reach it as localhost, or add the name to allowed_hosts"})
		return
	}
	if isAPIWrite(r) {
		if err := a.crossOrigin.Check(r); err != nil {
			writeError(w, versionOf(r.URL.Path), &apiError{status: http.StatusForbidden,
				msg: "cross-site requests cannot write to this API"})
			return
		}
		if !isJSONType(r.Header.Get("Content-Type")) {
			writeError(w, versionOf(r.URL.Path), &apiError{status: http.StatusUnsupportedMediaType,
				msg: "the request body must be JSON, sent with Content-Type: application/json"})
			return
		}
	}
	a.mux.ServeHTTP(w, r)
}

// authenticated resolves the caller's project from its key, answers 401 in
// the path's version shape without one, and writes errors the handler
// returns.
func (a *api) authenticated(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := versionOf(r.URL.Path)
		project, ok := a.authenticate(r)
		if !ok {
			writeError(w, v, &apiError{status: http.StatusUnauthorized, msg: "missing or invalid API key"})
			return
		}
		if err := h(w, r, project); err != nil {
			a.writeErr(w, r, v, err)
		}
	})
}

func (a *api) writeErr(w http.ResponseWriter, r *http.Request, v apiVersion, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrNotFound):
		ae = errNotFound("resource")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		ae = &apiError{status: 499, msg: "request canceled"}
	case errors.Is(err, store.ErrUnavailable):
		// The database is down or restarting: the client retries, and
		// the same request succeeds once it is back. The driver's words
		// stay in the log, out of the answer.
		a.storeDown(err)
		w.Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
		ae = &apiError{status: http.StatusServiceUnavailable, msg: "the trace store is unavailable; retry later"}
	default:
		// A store failure: log it once here (no request content, no key).
		a.logger.Error("Trace store operation failed", zap.String("method", r.Method),
			zap.String("route", r.Pattern), zap.Error(err))
		ae = &apiError{status: http.StatusInternalServerError, msg: "the trace store failed; try again"}
	}
	writeError(w, v, ae)
}

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 for a
// store that cannot serve: about the time a database takes to restart.
const unavailableRetryAfter = 2

// storeDownLogEvery bounds the log of an unavailable store to one line per
// interval, however many requests it fails.
const storeDownLogEvery = 10 * time.Second

// storeDown logs that the store cannot serve, at most once an interval.
func (a *api) storeDown(err error) {
	now := time.Now().UnixNano()
	last := a.storeDownLogged.Load()
	if now-last < int64(storeDownLogEvery) || !a.storeDownLogged.CompareAndSwap(last, now) {
		return
	}
	a.logger.Warn("The trace store is unavailable; answering 503 with Retry-After until it is back", zap.Error(err))
}

// authenticate returns the caller's project. Every configured key is
// compared, in constant time, against the presented one; the loop never
// stops early, so timing reveals neither which key matched nor how much of
// a key was right.
func (a *api) authenticate(r *http.Request) (string, bool) {
	if len(a.keys) == 0 {
		return DefaultProject, true
	}
	token, ok := opperapi.BearerToken(r.Header.Get("Authorization"))
	project, known := a.projectForKey(token)
	return project, ok && known
}

// projectForKey returns the project of a key, comparing it with every
// configured key in constant time.
func (a *api) projectForKey(token string) (string, bool) {
	sum := sha256.Sum256([]byte(token))
	match := -1
	for i := range a.keys {
		eq := subtle.ConstantTimeCompare(sum[:], a.keys[i].sum[:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if token == "" || match < 0 {
		return "", false
	}
	return a.keys[match].project, true
}

// readBody reads the request body within the size limit: over it is a 413.
func (a *api) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	body := http.MaxBytesReader(w, r.Body, a.maxBody)
	b, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge,
				msg: "the request body is larger than the limit of " + formatBytes(mbe.Limit)}
		}
		return nil, errBadRequest("cannot read the request body: %v", err)
	}
	return b, nil
}

func formatBytes(n int64) string {
	return strconv.FormatInt(n, 10) + " bytes"
}

// forwardFor reports whether spans written by r go to the pipeline: not
// when forwarding is off, and not when the request carries the exporter's
// loop-guard header.
func (a *api) forwardFor(r *http.Request) bool {
	return a.cfg.Forward.Enabled &&
		(a.cfg.Forward.IncludeExporterSpans || r.Header.Get(opperapi.HeaderSource) != opperapi.SourceExporter)
}

// upsert stores spans and wakes the forwarder if any of them is complete;
// with forward.wait_for_pipeline it hands the completed ones to the next
// consumer itself and reports the pipeline's refusal to the client.
func (a *api) upsert(ctx context.Context, project string, spans []translator.Span, forward bool) error {
	direct := forward && a.pipeline != nil
	if err := a.write(ctx, project, spans, forward && !direct); err != nil {
		return err
	}
	return a.handOn(ctx, project, spans, forward, direct)
}

// update changes a stored span (PATCH) in the store's own transaction, so
// replicas sharing the store never lose each other's fields, then hands
// it on as upsert does. fn's *apiError reaches the client as it is.
func (a *api) update(ctx context.Context, project, spanID string, forward bool, fn func(*translator.Span) error) (translator.Span, error) {
	direct := forward && a.pipeline != nil
	s, err := a.store.UpdateSpan(ctx, project, spanID, forward && !direct, func(s *translator.Span) error {
		if err := fn(s); err != nil {
			return err
		}
		a.finishSpan(project, s)
		return nil
	})
	if err != nil {
		return s, notFound(err, "Span")
	}
	return s, a.handOn(ctx, project, []translator.Span{s}, forward, direct)
}

// handOn passes freshly stored spans on: to the next consumer directly
// (forward.wait_for_pipeline), or by waking the forwarder, which reads
// them from the outbox.
func (a *api) handOn(ctx context.Context, project string, spans []translator.Span, forward, direct bool) error {
	if direct {
		// Every write goes through as written: a span still running is
		// marked incomplete, and reaches the pipeline again when completed.
		if err := a.pipeline(ctx, project, spans); err != nil {
			if consumererror.IsPermanent(err) {
				return &apiError{status: http.StatusBadRequest, msg: "the pipeline rejected the spans: " + err.Error()}
			}
			// No Retry-After: the client's own backoff paces the retry.
			return &apiError{status: http.StatusServiceUnavailable,
				msg: "the pipeline cannot take the spans now; the spans are stored, send them again: " + err.Error()}
		}
		return nil
	}
	if forward && slices.ContainsFunc(spans, func(s translator.Span) bool { return !s.Running() }) {
		a.notify()
	}
	return nil
}

// write stores spans. Concurrent requests' writes are committed together
// by the store (the SQLite backend's group commit), not here.
func (a *api) write(ctx context.Context, project string, spans []translator.Span, forward bool) error {
	return a.store.UpsertSpans(ctx, project, spans, forward)
}

// finishSpan applies the server's part of a write: the project's retention,
// then max_field_bytes, so that what is stored is bounded whatever the
// client sent (the exporter caps content itself, SDKs do not). Every write
// path calls it on the span as it will be stored, so a PATCH that replaces
// content is capped too, and content cut before stays as it was.
func (a *api) finishSpan(project string, s *translator.Span) {
	translator.ApplyRetention(s, a.cfg.retentionFor(project))
	translator.TruncateContent(s, a.cfg.MaxFieldBytes)
}

// resolveTraceID fills a span's missing trace id. A root starts a trace
// whose id is the span's own id, so a retried create lands in the same
// trace. A child takes its parent's trace id: from spans written in the
// same request (known), else from the store, else, when the parent has
// not arrived yet, the parent's id, which is the id the parent's trace gets
// when it arrives as a root without a trace id.
func (a *api) resolveTraceID(ctx context.Context, project string, s *translator.Span, known map[string]string) error {
	if s.TraceID != "" {
		return nil
	}
	if s.ParentID == "" {
		s.TraceID = s.ID
		return nil
	}
	if tid, ok := known[s.ParentID]; ok {
		s.TraceID = tid
		return nil
	}
	parent, err := a.store.GetSpan(ctx, project, s.ParentID)
	switch {
	case err == nil:
		s.TraceID = parent.TraceID
	case errors.Is(err, store.ErrNotFound):
		s.TraceID = s.ParentID
	default:
		return err
	}
	return nil
}

// checkTime rejects times that cannot be written back as RFC 3339.
func checkTime(t *opperapi.Time, field string) *apiError {
	if t == nil {
		return nil
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return errInvalid("datetime_parsing", "Input should be a valid datetime between years 1 and 9999", "body", field)
	}
	return nil
}

// checkID validates a client-chosen id.
func checkID(id *string, field string) *apiError {
	if id == nil {
		return nil
	}
	if len(*id) > maxIDBytes {
		return errInvalid("string_too_long", "String should have at most 256 bytes", "body", field)
	}
	if strings.ContainsFunc(*id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errInvalid("string_pattern_mismatch", "String must not contain control characters", "body", field)
	}
	return nil
}

// writeJSON writes a success answer.
func (a *api) writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeRaw(w, status, b)
	return nil
}

func writeNoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pathID returns a path id in its canonical form (UUIDs are stored lower
// case, 8-4-4-4-12).
func pathID(r *http.Request, name string) string {
	return translator.CanonicalID(r.PathValue(name))
}
