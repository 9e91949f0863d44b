// Package opperfake is a strict, in-memory fake of the hosted Opper trace
// API for tests: v2 span create/update/get and span metrics as strict as
// docs/opper-api.md says the hosted API is (bearer auth, UUID ids, zoned
// RFC 3339 times, integer score, object meta, 404 "Parent span not found",
// 409 for an existing id), optionally this project's bulk extension
// (`POST /v2/spans/batch`) and v3 span create, plus switchable faults
// (429 with Retry-After, 503, slow answers, down).
package opperfake // import "github.com/opperotel/bridge/internal/opperfake"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/opperotel/bridge/opperapi"
)

// Span is a stored span.
type Span struct {
	ID        string
	TraceID   string
	ParentID  string
	Name      string
	Type      string
	StartTime string
	EndTime   string
	Input     json.RawMessage
	Output    json.RawMessage
	Error     *string
	Meta      map[string]any
	Score     *int64
	Metrics   []opperapi.SpanMetric

	Creates int // successful creates (always 1 in v2)
	Updates int // successful PATCHes
}

// Options configure a Server.
type Options struct {
	// APIKey is the bearer token every request must carry.
	APIKey string
	// Bulk enables `POST /v2/spans/batch` (this project's receiver has it;
	// the hosted API answers 405, as its router does for a path that only
	// matches other methods).
	Bulk bool
}

// Server is the fake. Its zero value is not usable; use New or Handler.
type Server struct {
	opts Options

	mu       sync.Mutex
	spans    map[string]*Span
	order    []string // ids in the order they were created
	v3spans  []*Span
	requests map[string]int // "METHOD path-pattern status" -> count

	faultMu    sync.Mutex
	faultMatch func(*http.Request) bool // only requests it accepts get the fault
	faultCode  int                      // answer this status ...
	faultN     int                      // ... to the next faultN requests (-1: until cleared)
	retryAfter string                   // with this Retry-After
	delay      time.Duration            // answer this late
	down       bool                     // drop connections without answering

	httpServer *httptest.Server
}

// NewHandler returns a fake without a listener, for use as an http.Handler.
func NewHandler(opts Options) *Server {
	return &Server{opts: opts, spans: map[string]*Span{}, requests: map[string]int{}}
}

// New starts a fake on a free loopback port.
func New(opts Options) *Server {
	s := NewHandler(opts)
	s.httpServer = httptest.NewServer(s)
	return s
}

// URL is the server root, the exporter's endpoint.
func (s *Server) URL() string { return s.httpServer.URL }

// Close stops the listener.
func (s *Server) Close() {
	if s.httpServer != nil {
		s.httpServer.CloseClientConnections()
		s.httpServer.Close()
	}
}

// FailNext answers the next n requests (n < 0: all, until ClearFaults)
// with status and, if not empty, a Retry-After header.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faultN, s.faultCode, s.retryAfter, s.faultMatch = n, status, retryAfter, nil
}

// FailMatching is FailNext for the requests match accepts only.
func (s *Server) FailMatching(n, status int, retryAfter string, match func(*http.Request) bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faultN, s.faultCode, s.retryAfter, s.faultMatch = n, status, retryAfter, match
}

// SetDelay makes every answer late by d.
func (s *Server) SetDelay(d time.Duration) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.delay = d
}

// SetDown makes the server drop every connection without an answer (the
// client sees a network error) until SetDown(false).
func (s *Server) SetDown(down bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.down = down
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faultN, s.faultCode, s.retryAfter, s.delay, s.down, s.faultMatch = 0, 0, "", 0, false, nil
}

// Spans returns copies of the stored v2 spans in creation order.
func (s *Server) Spans() []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Span, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.spans[id])
	}
	return out
}

// Span returns a copy of the v2 span with id.
func (s *Server) Span(id string) (Span, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.spans[id]
	if !ok {
		return Span{}, false
	}
	return *sp, true
}

// SpansV3 returns copies of the v3 spans in creation order.
func (s *Server) SpansV3() []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Span, 0, len(s.v3spans))
	for _, sp := range s.v3spans {
		out = append(out, *sp)
	}
	return out
}

// Requests returns how many requests got each answer, keyed
// "METHOD route status", e.g. "POST /v2/spans 409".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.injectFault(w, r) {
		return
	}
	route, status := s.serve(w, r)
	s.mu.Lock()
	s.requests[fmt.Sprintf("%s %s %d", r.Method, route, status)]++
	s.mu.Unlock()
}

func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.faultMu.Lock()
	down, delay := s.down, s.delay
	code, retryAfter := 0, s.retryAfter
	if s.faultN != 0 && (s.faultMatch == nil || s.faultMatch(r)) {
		code = s.faultCode
		if s.faultN > 0 {
			s.faultN--
		}
	}
	s.faultMu.Unlock()
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return true
		}
	}
	if code != 0 {
		_, _ = io.Copy(io.Discard, r.Body)
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeError(w, code, "injected fault")
		s.mu.Lock()
		s.requests[fmt.Sprintf("%s fault %d", r.Method, code)]++
		s.mu.Unlock()
		return true
	}
	return false
}

// serve routes a request and returns the route pattern and status.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) (string, int) {
	if got := r.Header.Get("Authorization"); got != "Bearer "+s.opts.APIKey || s.opts.APIKey == "" {
		return "auth", writeError(w, http.StatusUnauthorized, "The request is unauthorized")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return "read", writeError(w, http.StatusBadRequest, err.Error())
	}
	path := r.URL.Path
	switch {
	case path == opperapi.PathV2Spans:
		if r.Method != http.MethodPost {
			return path, writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		}
		if ok, st := s.checkJSON(w, r); !ok {
			return path, st
		}
		st, resp := s.createV2(body)
		return path, writeJSON(w, st, resp)
	case path == opperapi.PathV2SpansBatch && s.opts.Bulk && r.Method == http.MethodPost:
		if ok, st := s.checkJSON(w, r); !ok {
			return path, st
		}
		return path, s.bulk(w, body)
	case path == opperapi.PathV3Spans && r.Method == http.MethodPost:
		return path, s.createV3(w, body)
	case strings.HasPrefix(path, opperapi.PathV2Spans+"/"):
		rest := strings.Split(strings.TrimPrefix(path, opperapi.PathV2Spans+"/"), "/")
		id := rest[0]
		switch {
		case len(rest) == 1 && r.Method == http.MethodPatch:
			return "/v2/spans/{id}", s.update(w, r, id, body)
		case len(rest) == 1 && r.Method == http.MethodGet:
			return "/v2/spans/{id}", s.get(w, id)
		case len(rest) == 1:
			// What the hosted router answers for `POST /v2/spans/batch`.
			return "/v2/spans/{id}", writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		case len(rest) == 2 && rest[1] == "metrics" && r.Method == http.MethodPost:
			return "/v2/spans/{id}/metrics", s.createMetric(w, r, id, body)
		case len(rest) == 2 && rest[1] == "metrics" && r.Method == http.MethodGet:
			return "/v2/spans/{id}/metrics", s.listMetrics(w, r, id)
		}
	}
	return "unknown", writeError(w, http.StatusNotFound, "Not Found")
}

func (s *Server) checkJSON(w http.ResponseWriter, r *http.Request) (bool, int) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return false, writeError(w, http.StatusUnprocessableEntity, "Content-Type must be application/json, got "+ct)
	}
	return true, 0
}

// createV2 validates and stores one create body; it returns the status and
// the response (a Span or an error).
func (s *Server) createV2(body []byte) (int, any) {
	sp, problem := parseCreate(body)
	if problem != "" {
		return http.StatusUnprocessableEntity, opperapi.NewError(http.StatusUnprocessableEntity, problem)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.spans[sp.ID]; ok {
		return http.StatusConflict, opperapi.NewError(http.StatusConflict, "Span with id "+sp.ID+" already exists")
	}
	if sp.ParentID != "" {
		if _, ok := s.spans[sp.ParentID]; !ok {
			e := opperapi.Error{Type: "NotFoundError", Message: "Parent span not found", Detail: "Parent span " + sp.ParentID + " not found"}
			return http.StatusNotFound, e
		}
	}
	sp.Creates = 1
	s.spans[sp.ID] = sp
	s.order = append(s.order, sp.ID)
	return http.StatusOK, spanResponse(sp)
}

func (s *Server) bulk(w http.ResponseWriter, body []byte) int {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return writeError(w, http.StatusUnprocessableEntity, "body must be a JSON array of span create bodies")
	}
	resp := opperapi.BatchResponse{Results: make([]opperapi.BatchItemResult, len(items))}
	for i, item := range items {
		st, r := s.createV2(item)
		res := opperapi.BatchItemResult{Index: i, Status: st}
		switch v := r.(type) {
		case opperapi.Span:
			res.ID = v.ID
		case opperapi.Error:
			res.Error = &v
		}
		resp.Results[i] = res
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, id string, body []byte) int {
	if !isUUID(id) {
		return writeError(w, http.StatusUnprocessableEntity, "span_id: Input should be a valid UUID")
	}
	if ok, st := s.checkJSON(w, r); !ok {
		return st
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return writeError(w, http.StatusUnprocessableEntity, "body must be a JSON object")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.spans[id]
	if !ok {
		return writeError(w, http.StatusNotFound, "Span not found")
	}
	upd := *sp
	for k, v := range raw {
		if isNull(v) {
			continue
		}
		var problem string
		switch k {
		case "name":
			problem = strField(v, &upd.Name, k)
		case "type":
			problem = strField(v, &upd.Type, k)
		case "start_time":
			problem = timeField(v, &upd.StartTime, k)
		case "end_time":
			problem = timeField(v, &upd.EndTime, k)
		case "input", "output":
			// Strings only in an update.
			var str string
			if json.Unmarshal(v, &str) != nil {
				problem = k + ": Input should be a valid string"
			} else if k == "input" {
				upd.Input = append(json.RawMessage(nil), v...)
			} else {
				upd.Output = append(json.RawMessage(nil), v...)
			}
		case "error":
			var str string
			problem = strField(v, &str, k)
			upd.Error = &str
		case "meta":
			m, p := metaField(v)
			problem = p
			// Merged key by key (the live API's behaviour is unverified;
			// merging is the case a client must be ready for).
			if upd.Meta == nil {
				upd.Meta = map[string]any{}
			} else {
				upd.Meta = copyMap(upd.Meta)
			}
			for mk, mv := range m {
				upd.Meta[mk] = mv
			}
		case "score":
			upd.Score, problem = scoreField(v)
		}
		if problem != "" {
			return writeError(w, http.StatusUnprocessableEntity, problem)
		}
	}
	upd.Updates++
	*sp = upd
	return writeJSON(w, http.StatusOK, spanResponse(sp))
}

func (s *Server) get(w http.ResponseWriter, id string) int {
	s.mu.Lock()
	sp, ok := s.spans[id]
	var resp opperapi.Span
	if ok {
		resp = spanResponse(sp)
	}
	s.mu.Unlock()
	if !ok {
		return writeError(w, http.StatusNotFound, "Span not found")
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) createMetric(w http.ResponseWriter, r *http.Request, id string, body []byte) int {
	if !isUUID(id) {
		return writeError(w, http.StatusUnprocessableEntity, "span_id: Input should be a valid UUID")
	}
	if ok, st := s.checkJSON(w, r); !ok {
		return st
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return writeError(w, http.StatusUnprocessableEntity, "body must be a JSON object")
	}
	var m opperapi.SpanMetric
	if p := strField(raw["dimension"], &m.Dimension, "dimension"); p != "" || m.Dimension == "" {
		return writeError(w, http.StatusUnprocessableEntity, "dimension: Field required (string)")
	}
	if err := json.Unmarshal(raw["value"], &m.Value); err != nil || isNull(raw["value"]) {
		return writeError(w, http.StatusUnprocessableEntity, "value: Input should be a valid number")
	}
	if c, ok := raw["comment"]; ok && !isNull(c) {
		var str string
		if p := strField(c, &str, "comment"); p != "" {
			return writeError(w, http.StatusUnprocessableEntity, p)
		}
		m.Comment = &str
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.spans[id]
	if !ok {
		return writeError(w, http.StatusNotFound, "Span not found")
	}
	m.ID = uuid.NewString()
	m.SpanID = id
	m.CreatedAt = opperapi.NewTime(time.Now())
	sp.Metrics = append(sp.Metrics, m)
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) listMetrics(w http.ResponseWriter, r *http.Request, id string) int {
	limit, offset := 100, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		offset, _ = strconv.Atoi(v)
	}
	s.mu.Lock()
	sp, ok := s.spans[id]
	var page opperapi.List[opperapi.SpanMetric]
	if ok {
		all := sp.Metrics
		page.Meta.TotalCount = int64(len(all))
		if offset < len(all) {
			page.Data = append(page.Data, all[offset:min(len(all), offset+limit)]...)
		}
	}
	s.mu.Unlock()
	if !ok {
		return writeError(w, http.StatusNotFound, "Span not found")
	}
	if page.Data == nil {
		page.Data = []opperapi.SpanMetric{}
	}
	return writeJSON(w, http.StatusOK, page)
}

// createV3 stores a v3 span with server-assigned ids.
func (s *Server) createV3(w http.ResponseWriter, body []byte) int {
	var req opperapi.CreateSpanRequestV3
	if err := json.Unmarshal(body, &req); err != nil || req.Name == "" {
		return writeJSONStatus(w, http.StatusBadRequest, opperapi.NewErrorV3(http.StatusBadRequest, "invalid span", fmt.Sprint(err)))
	}
	sp := &Span{ID: uuid.NewString(), Name: req.Name, Creates: 1}
	if req.Type != nil {
		sp.Type = *req.Type
	}
	if req.StartTime != nil {
		sp.StartTime = req.StartTime.Format()
	}
	if req.EndTime != nil {
		sp.EndTime = req.EndTime.Format()
	}
	sp.Meta, _ = opperapi.Object(req.Meta).Map()
	if md, _ := req.Metadata.Map(); md != nil {
		if sp.Meta == nil {
			sp.Meta = map[string]any{}
		}
		sp.Meta["_metadata"] = md
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.ParentID != nil {
		var parent *Span
		for _, p := range s.v3spans {
			if p.ID == *req.ParentID {
				parent = p
			}
		}
		if parent == nil {
			return writeJSONStatus(w, http.StatusNotFound, opperapi.NewErrorV3(http.StatusNotFound, "parent span not found", nil))
		}
		sp.ParentID = parent.ID
	}
	switch {
	case req.TraceID != nil:
		sp.TraceID = *req.TraceID
	default:
		sp.TraceID = uuid.NewString()
	}
	s.v3spans = append(s.v3spans, sp)
	resp := opperapi.Envelope[opperapi.CreateSpanResponseV3]{Data: opperapi.CreateSpanResponseV3{ID: sp.ID, TraceID: sp.TraceID, Name: sp.Name}}
	return writeJSON(w, http.StatusOK, resp)
}

// parseCreate validates a v2 create body field by field, as the hosted
// API's pydantic model would; unknown fields are ignored.
func parseCreate(body []byte) (*Span, string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, "body must be a JSON object"
	}
	sp := &Span{}
	if p := strField(raw["name"], &sp.Name, "name"); p != "" || isNull(raw["name"]) {
		return nil, "name: Field required"
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"id", &sp.ID}, {"trace_id", &sp.TraceID}, {"parent_id", &sp.ParentID}} {
		v, ok := raw[f.key]
		if !ok || isNull(v) {
			continue
		}
		if p := strField(v, f.dst, f.key); p != "" {
			return nil, p
		}
		if !isUUID(*f.dst) {
			return nil, f.key + ": Input should be a valid UUID, got " + strconv.Quote(*f.dst)
		}
	}
	if sp.ID == "" {
		sp.ID = uuid.NewString()
	}
	if sp.TraceID == "" {
		sp.TraceID = uuid.NewString()
	}
	for k, v := range raw {
		if isNull(v) {
			continue
		}
		var problem string
		switch k {
		case "type":
			problem = strField(v, &sp.Type, k)
		case "start_time":
			problem = timeField(v, &sp.StartTime, k)
		case "end_time":
			problem = timeField(v, &sp.EndTime, k)
		case "input":
			sp.Input = append(json.RawMessage(nil), v...)
		case "output":
			sp.Output = append(json.RawMessage(nil), v...)
		case "error":
			var str string
			problem = strField(v, &str, k)
			sp.Error = &str
		case "meta":
			sp.Meta, problem = metaField(v)
		case "score":
			sp.Score, problem = scoreField(v)
		}
		if problem != "" {
			return nil, problem
		}
	}
	return sp, ""
}

func spanResponse(sp *Span) opperapi.Span {
	out := opperapi.Span{ID: sp.ID, Name: sp.Name, Input: sp.Input, Output: sp.Output, Error: sp.Error, Score: sp.Score}
	out.TraceID = &sp.TraceID
	if sp.ParentID != "" {
		out.ParentID = &sp.ParentID
	}
	if sp.Type != "" {
		out.Type = &sp.Type
	}
	if sp.Meta != nil {
		out.Meta, _ = opperapi.ObjectFromMap(sp.Meta)
	}
	return out
}

var zonedTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$`)

func timeField(v json.RawMessage, dst *string, key string) string {
	var s string
	if json.Unmarshal(v, &s) != nil {
		return key + ": Input should be a valid datetime string"
	}
	if !zonedTime.MatchString(s) {
		return key + ": Input should be an RFC 3339 datetime with a time zone, got " + strconv.Quote(s)
	}
	if _, err := opperapi.ParseTime(s); err != nil {
		return key + ": " + err.Error()
	}
	*dst = s
	return ""
}

func strField(v json.RawMessage, dst *string, key string) string {
	if len(v) == 0 {
		return key + ": Field required"
	}
	if json.Unmarshal(v, dst) != nil {
		return key + ": Input should be a valid string"
	}
	return ""
}

func metaField(v json.RawMessage) (map[string]any, string) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '{' {
		return nil, "meta: Input should be a valid dictionary"
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, "meta: " + err.Error()
	}
	return m, ""
}

func scoreField(v json.RawMessage) (*int64, string) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil {
		return nil, "score: Input should be a valid integer, got " + string(v)
	}
	return &n, ""
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

func isNull(v json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func writeError(w http.ResponseWriter, status int, detail string) int {
	e := opperapi.NewError(status, detail)
	if status == http.StatusUnauthorized || status == http.StatusNotFound {
		e.Message = detail
	}
	return writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) int { return writeJSON(w, status, v) }
