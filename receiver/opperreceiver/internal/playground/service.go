package playground

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// MaxRunBytes caps a run request's body: a long conversation with tool
// results, not an upload.
const MaxRunBytes = 4 << 20

// Tag marks the traces the playground saves; the root's meta names the
// source under these keys.
const (
	Tag                = "playground"
	MetaSourceTraceID  = "playground.source_trace_id"
	MetaSourceSpanID   = "playground.source_span_id"
	RunsPerMinuteKey   = "playground::runs_per_minute"
	metaModelParams    = "model_parameters"
	metaToolDefinition = "tool_definitions"
)

// Model is a model the playground can run, with the provider serving it.
type Model struct {
	Provider string `json:"provider"`
	Name     string `json:"model"`
}

// Service runs edited conversations for the receiver's projects: it checks
// a run request against the source trace and the project's rate limit,
// calls the model's provider, answers as JSON or as server-sent events,
// and on request saves the run as a new trace. It is safe for concurrent
// use.
type Service struct {
	models  []Model
	clients map[string]*Client // by model name
	limiter *limiter
	store   store.Store
	logger  *zap.Logger
	finish  func(project string, s *translator.Span)
	now     func() time.Time
}

// Option changes a Service.
type Option func(*Service)

// WithSpanFinisher applies fn to each span of a saved run before it is
// stored: the receiver's retention and content cap.
func WithSpanFinisher(fn func(project string, s *translator.Span)) Option {
	return func(s *Service) { s.finish = fn }
}

// NewService returns the service for providers, allowing each project
// runsPerMinute runs (at least 1), saving into st, sending with hc (a new
// http.Client when nil).
func NewService(providers []Provider, runsPerMinute int, st store.Store, logger *zap.Logger, hc *http.Client, opts ...Option) (*Service, error) {
	if runsPerMinute < 1 {
		return nil, fmt.Errorf("%s must be at least 1, got %d", RunsPerMinuteKey, runsPerMinute)
	}
	if err := ValidateProviders(providers); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	s := &Service{clients: map[string]*Client{}, limiter: newLimiter(runsPerMinute, time.Minute),
		store: st, logger: logger, finish: func(string, *translator.Span) {}, now: time.Now}
	for _, p := range providers {
		c, err := NewClient(p, hc)
		if err != nil {
			return nil, err
		}
		for _, m := range p.Models {
			s.models = append(s.models, Model{Provider: p.Name, Name: m})
			s.clients[m] = c
		}
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Models returns the configured models in configuration order.
func (s *Service) Models() []Model { return append([]Model(nil), s.models...) }

// runRequest is the body of a run.
type runRequest struct {
	TraceID    string               `json:"trace_id"`
	SpanID     string               `json:"span_id"`
	Model      string               `json:"model"`
	Messages   []translator.Message `json:"messages"`
	Parameters map[string]any       `json:"parameters"`
	Tools      []json.RawMessage    `json:"tools"`
	Save       bool                 `json:"save"`
}

// runUsage is the answer's token count on the wire.
type runUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
}

// runResult is a successful run: data of the JSON answer, the done event.
type runResult struct {
	Message translator.Message `json:"message"`
	Usage   runUsage           `json:"usage"`
	Model   string             `json:"model"`
	TraceID string             `json:"trace_id,omitempty"`
}

// runError is the error event of a streamed run.
type runError struct {
	Status    int    `json:"status"`
	Message   string `json:"message"`
	Provider  string `json:"provider"`
	Retryable bool   `json:"retryable"`
}

// failure is an answer to a run that did not happen or did not succeed.
type failure struct {
	status     int
	msg        string
	details    any
	retryAfter time.Duration
}

func fail(status int, format string, args ...any) *failure {
	return &failure{status: status, msg: fmt.Sprintf(format, args...)}
}

// ServeRun serves a run for project, which the caller has authenticated:
// POST {trace_id, span_id?, model, messages, parameters?, tools?, save?}.
// With Accept: text/event-stream the answer streams as delta, tool_call
// and then done or error events; otherwise it is {"data": {message, usage,
// model, trace_id?}}. Errors are in the v3 shape {"error": {code, message,
// details?}}.
func (s *Service) ServeRun(w http.ResponseWriter, r *http.Request, project string) {
	req, src, client, f := s.prepare(w, r, project)
	if f != nil {
		writeFailure(w, f)
		return
	}
	start := s.now()
	if wantsStream(r) {
		s.stream(w, r, project, req, src, client, start)
		return
	}
	res, err := client.Run(r.Context(), req.call())
	if err != nil {
		if f := s.runFailure(r, req.Model, err); f != nil {
			writeFailure(w, f)
		}
		return
	}
	out, f := s.finishRun(r.Context(), project, req, src, client, res, start)
	if f != nil {
		writeFailure(w, f)
		return
	}
	writeJSON(w, http.StatusOK, opperapi.Envelope[runResult]{Data: out})
}

// prepare reads and checks a run request, finds its source trace and takes
// one run from the project's budget.
func (s *Service) prepare(w http.ResponseWriter, r *http.Request, project string) (*runRequest, *store.Trace, *Client, *failure) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, nil, nil, fail(http.StatusMethodNotAllowed, "method %s is not allowed here; use POST", r.Method)
	}
	req, f := decodeRun(w, r)
	if f != nil {
		return nil, nil, nil, f
	}
	client, ok := s.clients[req.Model]
	if !ok {
		return nil, nil, nil, fail(http.StatusBadRequest, "model %q is not configured for the playground; use one of: %s", req.Model, s.modelList())
	}
	if len(req.Messages) == 0 {
		return nil, nil, nil, fail(http.StatusBadRequest, "messages must not be empty: send the conversation to run")
	}
	if _, err := client.requestBody(req.call(), false); err != nil {
		return nil, nil, nil, fail(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), ErrInvalidRequest.Error()+": "))
	}
	src, f := s.sourceTrace(r.Context(), project, req)
	if f != nil {
		return nil, nil, nil, f
	}
	if wait := s.limiter.take(project, s.now()); wait > 0 {
		return nil, nil, nil, &failure{status: http.StatusTooManyRequests, retryAfter: wait,
			msg: fmt.Sprintf("this project may start %d playground runs a minute (%s); retry in %s",
				s.limiter.perWindow, RunsPerMinuteKey, seconds(wait))}
	}
	return req, src, client, nil
}

func decodeRun(w http.ResponseWriter, r *http.Request) (*runRequest, *failure) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRunBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, fail(http.StatusRequestEntityTooLarge, "the run request is larger than the limit of %d bytes", MaxRunBytes)
		}
		return nil, fail(http.StatusBadRequest, "cannot read the request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var req runRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fail(http.StatusBadRequest, "the run request is not valid: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail(http.StatusBadRequest, "the run request is not valid: data after the JSON object")
	}
	req.TraceID = strings.TrimSpace(req.TraceID)
	req.SpanID = strings.TrimSpace(req.SpanID)
	switch {
	case req.TraceID == "":
		return nil, fail(http.StatusBadRequest, "trace_id is required: the trace the conversation comes from")
	case !validID(req.TraceID):
		return nil, fail(http.StatusBadRequest, "trace_id is not a valid id")
	case req.SpanID != "" && !validID(req.SpanID):
		return nil, fail(http.StatusBadRequest, "span_id is not a valid id")
	case req.Model == "":
		return nil, fail(http.StatusBadRequest, "model is required")
	}
	return &req, nil
}

// validID accepts the ids a client may choose: at most 256 bytes, no
// control characters.
func validID(id string) bool {
	return len(id) <= 256 && !strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func (req *runRequest) call() Request {
	return Request{Model: req.Model, Messages: req.Messages, Parameters: req.Parameters, Tools: req.Tools}
}

// sourceTrace reads the trace the run starts from; the span, when named,
// must be one of its spans.
func (s *Service) sourceTrace(ctx context.Context, project string, req *runRequest) (*store.Trace, *failure) {
	req.TraceID = translator.CanonicalID(req.TraceID)
	tr, err := s.store.GetTrace(ctx, project, req.TraceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fail(http.StatusNotFound, "trace %s not found", req.TraceID)
	case errors.Is(err, store.ErrUnavailable):
		return nil, &failure{status: http.StatusServiceUnavailable, retryAfter: 2 * time.Second, msg: "the trace store is unavailable; retry later"}
	case err != nil:
		s.logger.Error("Playground: reading the source trace failed", zap.Error(err))
		return nil, fail(http.StatusInternalServerError, "the trace store failed; try again")
	}
	if req.SpanID != "" {
		req.SpanID = translator.CanonicalID(req.SpanID)
		found := false
		for i := range tr.Spans {
			found = found || tr.Spans[i].ID == req.SpanID
		}
		if !found {
			return nil, fail(http.StatusNotFound, "span %s is not in trace %s", req.SpanID, req.TraceID)
		}
	}
	return &tr, nil
}

func (s *Service) modelList() string {
	names := make([]string, len(s.models))
	for i, m := range s.models {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// runFailure logs a failed run and says how to answer it; nil when the
// client went away and nobody reads the answer.
func (s *Service) runFailure(r *http.Request, model string, err error) *failure {
	pe, ok := errors.AsType[*ProviderError](err)
	if !ok {
		if r.Context().Err() != nil {
			return nil
		}
		s.logger.Warn("Playground run failed", zap.String("model", model), zap.Error(err))
		return fail(http.StatusBadGateway, "the run failed: %v", err)
	}
	s.logger.Warn("Playground run failed", zap.String("provider", pe.Provider), zap.String("model", model),
		zap.Int("status", pe.Status), zap.Bool("retryable", pe.Retryable))
	status := http.StatusBadGateway
	if errors.Is(pe, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	return &failure{status: status, msg: pe.Error(), details: errorEvent(pe)}
}

func errorEvent(pe *ProviderError) runError {
	return runError{Status: pe.Status, Message: pe.Message, Provider: pe.Provider, Retryable: pe.Retryable}
}

// finishRun turns the provider's answer into the run's result, saving it
// first when asked.
func (s *Service) finishRun(ctx context.Context, project string, req *runRequest, src *store.Trace, c *Client, res Result, start time.Time) (runResult, *failure) {
	out := runResult{
		Message: res.Message,
		Usage:   runUsage{InputTokens: res.Usage.InputTokens, OutputTokens: res.Usage.OutputTokens, TotalTokens: res.Usage.TotalTokens},
		Model:   res.Model,
	}
	if out.Model == "" {
		out.Model = req.Model
	}
	if !req.Save {
		return out, nil
	}
	spans, err := s.runSpans(project, req, src, c, res, start, s.now())
	if err == nil {
		err = s.store.UpsertSpans(ctx, project, spans, false)
	}
	switch {
	case err == nil:
		out.TraceID = spans[0].TraceID
		return out, nil
	case errors.Is(err, store.ErrUnavailable):
		return out, &failure{status: http.StatusServiceUnavailable, retryAfter: 2 * time.Second,
			msg: "the run succeeded but the trace store is unavailable, so it was not saved; retry later"}
	default:
		s.logger.Error("Playground: saving a run failed", zap.Error(err))
		return out, fail(http.StatusInternalServerError, "the run succeeded but saving it failed; try again")
	}
}

// runSpans is a saved run: a function span named after the source trace,
// tagged and pointing to its source, over one generation span.
func (s *Service) runSpans(project string, req *runRequest, src *store.Trace, c *Client, res Result, start, end time.Time) ([]translator.Span, error) {
	input, err := json.Marshal(req.Messages)
	if err != nil {
		return nil, err
	}
	output, err := json.Marshal([]translator.Message{res.Message})
	if err != nil {
		return nil, err
	}
	traceID := uuid.NewString()
	rootMeta := translator.Meta{{Key: MetaSourceTraceID, Value: req.TraceID}}
	if req.SpanID != "" {
		rootMeta = append(rootMeta, translator.MetaField{Key: MetaSourceSpanID, Value: req.SpanID})
	}
	root := translator.Span{
		TraceID: traceID, ID: traceID, Name: "Playground: " + sourceName(src), Type: translator.TypeFunction,
		StartTime: start, EndTime: end, Tags: []string{Tag}, Meta: rootMeta,
	}
	in, out := string(input), string(output)
	gen := translator.Span{
		TraceID: traceID, ID: uuid.NewString(), ParentID: traceID, Name: req.Model, Type: translator.TypeGeneration,
		StartTime: start, EndTime: end, Input: &in, Output: &out, InputJSON: true, OutputJSON: true,
		Model: res.Model, Provider: c.name,
		Usage: &translator.Usage{Input: res.Usage.InputTokens, Output: res.Usage.OutputTokens, Total: res.Usage.TotalTokens},
	}
	if gen.Model == "" {
		gen.Model = req.Model
	} else if gen.Model != req.Model {
		gen.RequestModel = req.Model
	}
	if len(req.Parameters) > 0 {
		gen.Meta = append(gen.Meta, translator.MetaField{Key: metaModelParams, Value: req.Parameters})
	}
	if len(req.Tools) > 0 {
		tools, err := json.Marshal(req.Tools)
		if err != nil {
			return nil, err
		}
		gen.Meta = append(gen.Meta, translator.MetaField{Key: metaToolDefinition, Value: json.RawMessage(tools)})
	}
	spans := []translator.Span{root, gen}
	for i := range spans {
		s.finish(project, &spans[i])
	}
	return spans, nil
}

func sourceName(src *store.Trace) string {
	if src.Summary.Name != "" {
		return src.Summary.Name
	}
	return src.Summary.TraceID
}

// stream runs the request with the answer as server-sent events.
func (s *Service) stream(w http.ResponseWriter, r *http.Request, project string, req *runRequest, src *store.Trace, c *Client, start time.Time) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // an answer may take longer than a write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	// clientGone is set once a write to the client failed: nobody reads
	// the rest, and it is not the provider's failure.
	clientGone := false
	send := func(event string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf := make([]byte, 0, len(event)+len(data)+16)
		buf = append(append(append(buf, "event: "...), event...), "\ndata: "...)
		buf = append(append(buf, data...), "\n\n"...)
		_, err = w.Write(buf)
		if err == nil {
			err = rc.Flush()
		}
		clientGone = clientGone || err != nil
		return err
	}
	res, err := c.Stream(r.Context(), req.call(), func(d Delta) error {
		switch {
		case d.ToolCall != nil:
			return send("tool_call", d.ToolCall)
		case d.Reasoning != "":
			return send("delta", struct {
				Reasoning string `json:"reasoning"`
			}{d.Reasoning})
		default:
			return send("delta", struct {
				Text string `json:"text"`
			}{d.Text})
		}
	})
	if err != nil {
		if clientGone {
			return
		}
		f := s.runFailure(r, req.Model, err)
		if f == nil {
			return
		}
		ev, ok := f.details.(runError)
		if !ok {
			ev = runError{Message: f.msg, Provider: c.name}
		}
		_ = send("error", ev)
		return
	}
	out, f := s.finishRun(r.Context(), project, req, src, c, res, start)
	if f != nil {
		_ = send("error", runError{Message: f.msg, Retryable: f.status == http.StatusServiceUnavailable})
		return
	}
	_ = send("done", out)
}

func wantsStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// WriteError writes an error in the receiver's v3 shape: {"error":
// {"code", "message", "details"?}}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	writeFailure(w, &failure{status: status, msg: msg})
}

func writeFailure(w http.ResponseWriter, f *failure) {
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
	}
	writeJSON(w, f.status, opperapi.NewErrorV3(f.status, f.msg, f.details))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal_server_error","message":"Internal server error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// limiter is a token bucket per project: perWindow runs at once, refilled
// evenly over the window. Projects are the configured ones, so the map
// stays small.
type limiter struct {
	perWindow int
	every     time.Duration // one run's worth of refill

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perWindow int, window time.Duration) *limiter {
	return &limiter{perWindow: perWindow, every: window / time.Duration(perWindow), buckets: map[string]*bucket{}}
}

// take spends one run of project's budget and returns 0, or returns how
// long until one is available and spends nothing.
func (l *limiter) take(project string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[project]
	if !ok {
		b = &bucket{tokens: float64(l.perWindow), last: now}
		l.buckets[project] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(float64(l.perWindow), b.tokens+float64(elapsed)/float64(l.every))
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.every))
}
