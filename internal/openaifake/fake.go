// Package openaifake is a strict local fake of an OpenAI-compatible Chat
// Completions endpoint for tests: POST /v1/chat/completions on a loopback
// httptest server, with bearer auth, the real API's validation of the
// request (see validate.go), recorded requests, and answers from a script:
// text (streamed word by word), tool calls (streamed as OpenAI does:
// index, id and name first, then the arguments in pieces), errors in
// OpenAI's shape, delays, and raw bodies for malformed answers. With no
// script left it echoes the last user message: "echo: <text>".
package openaifake // import "github.com/opperotel/bridge/internal/openaifake"

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for Options left empty.
const (
	DefaultAPIKey = "sk-fake-0123456789abcdefghijklmnop"
	DefaultModel  = "gpt-4o-mini"
)

// Options configure a Server.
type Options struct {
	// APIKey is the bearer key every request must carry; DefaultAPIKey
	// when empty.
	APIKey string
	// Models are the models served; others get 404 model_not_found.
	// [DefaultModel] when empty.
	Models []string
}

// Answer is one scripted answer. With Status 0 (or 200) and no Raw, it is
// a completion: Reasoning, Text and ToolCalls, streamed when the request
// asks for a stream.
type Answer struct {
	// Text is the assistant's text, streamed word by word.
	Text string
	// Reasoning is sent as reasoning_content, before the text.
	Reasoning string
	// ToolCalls make a tool call answer.
	ToolCalls []ToolCall
	// FinishReason replaces "stop" ("tool_calls" with tool calls).
	FinishReason string
	// Model is the model the answer names; the requested one when empty.
	Model string
	// Usage replaces the counted usage (words, roughly).
	Usage *Usage

	// Status, other than 0 and 200, makes an error answer in OpenAI's
	// shape {"error": {"message", "type", "param", "code"}} with Message,
	// Type (by default invalid_request_error, or server_error for 5xx)
	// and Code (null when empty).
	Status  int
	Message string
	Type    string
	Code    string
	// RetryAfter is sent as the Retry-After header.
	RetryAfter string

	// Delay holds the whole answer back, headers included.
	Delay time.Duration
	// ChunkDelay pauses before each streamed chunk.
	ChunkDelay time.Duration

	// Raw, when not empty, is the body as it is, with status Status (200
	// when 0) and RawContentType (application/json when empty).
	Raw            string
	RawContentType string
}

// ToolCall is one call in an answer; ID is generated when empty.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string // JSON text
}

// Usage is the token count an answer reports.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
}

// Request is a recorded request.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Status is the status the fake answered (or is answering) with.
	Status int
}

// Fields decodes the body's top-level fields; nil when it is not a JSON
// object.
func (r Request) Fields() map[string]json.RawMessage {
	var f map[string]json.RawMessage
	if json.Unmarshal(r.Body, &f) != nil {
		return nil
	}
	return f
}

// Server is the fake.
type Server struct {
	key    string
	models map[string]bool

	mu        sync.Mutex
	script    []Answer
	requests  []Request
	firstText []time.Time
	seq       int

	srv *httptest.Server
}

// New starts a fake on a free 127.0.0.1 port.
func New(opts Options) *Server {
	s := &Server{key: opts.APIKey, models: map[string]bool{}}
	if s.key == "" {
		s.key = DefaultAPIKey
	}
	if len(opts.Models) == 0 {
		opts.Models = []string{DefaultModel}
	}
	for _, m := range opts.Models {
		s.models[m] = true
	}
	s.srv = httptest.NewServer(s)
	return s
}

// URL is the base URL clients configure: <server>/v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// APIKey is the key the fake accepts.
func (s *Server) APIKey() string { return s.key }

// Close stops the server, cutting open connections.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// SetScript replaces the answers still to give, in order; each valid
// request takes the first (requests the fake refuses take none).
func (s *Server) SetScript(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append([]Answer(nil), answers...)
}

// FirstTextTimes are the times the streamed answers' first text was
// flushed to the client, one per streamed answer with text, in order:
// where a latency from the provider's first byte is measured.
func (s *Server) FirstTextTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.firstText)
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	req, apiErr := s.check(r, body)
	if apiErr != nil {
		rec.Status = apiErr.status
		s.record(rec)
		apiErr.write(w)
		return
	}
	s.mu.Lock()
	var a Answer
	scripted := len(s.script) > 0
	if scripted {
		a, s.script = s.script[0], s.script[1:]
	}
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	if !scripted {
		a = Answer{Text: "echo: " + req.lastUserText()}
	}
	rec.Status = a.Status
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	s.record(rec)
	if !sleep(r, a.Delay) {
		return
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	switch {
	case a.Raw != "":
		ct := a.RawContentType
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(rec.Status)
		io.WriteString(w, a.Raw)
	case rec.Status != http.StatusOK:
		typ := a.Type
		if typ == "" {
			typ = "invalid_request_error"
			if a.Status >= 500 {
				typ = "server_error"
			}
		}
		(&apiError{status: a.Status, message: a.Message, typ: typ, code: a.Code}).write(w)
	case req.stream:
		s.writeStream(w, r, req, a, seq)
	default:
		s.writeCompletion(w, req, a, seq)
	}
}

func (s *Server) record(rec Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
}

// sleep waits d, or until the client gives up (false).
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// answer is what both shapes of an answer are built from.
type answer struct {
	id, model, finish string
	usage             Usage
	calls             []ToolCall
}

func (s *Server) prepare(req *chatRequest, a Answer, seq int) answer {
	out := answer{id: "chatcmpl-fake" + strconv.Itoa(seq), model: a.Model, finish: a.FinishReason}
	if out.model == "" {
		out.model = req.model
	}
	for i, c := range a.ToolCalls {
		if c.ID == "" {
			c.ID = fmt.Sprintf("call_fake%d_%d", seq, i)
		}
		out.calls = append(out.calls, c)
	}
	if out.finish == "" {
		out.finish = "stop"
		if len(out.calls) > 0 {
			out.finish = "tool_calls"
		}
	}
	if a.Usage != nil {
		out.usage = *a.Usage
	} else {
		completion := len(strings.Fields(a.Text)) + len(strings.Fields(a.Reasoning))
		for _, c := range out.calls {
			completion += 1 + len(c.Arguments)/4
		}
		out.usage = Usage{PromptTokens: req.promptWords, CompletionTokens: completion, TotalTokens: req.promptWords + completion}
	}
	return out
}

func usageJSON(u Usage) map[string]any {
	return map[string]any{"prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens, "total_tokens": u.TotalTokens}
}

func (s *Server) writeCompletion(w http.ResponseWriter, req *chatRequest, a Answer, seq int) {
	p := s.prepare(req, a, seq)
	msg := map[string]any{"role": "assistant", "content": a.Text, "refusal": nil}
	if a.Reasoning != "" {
		msg["reasoning_content"] = a.Reasoning
	}
	if len(p.calls) > 0 {
		if a.Text == "" {
			msg["content"] = nil
		}
		var calls []map[string]any
		for _, c := range p.calls {
			calls = append(calls, map[string]any{"id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": c.Arguments}})
		}
		msg["tool_calls"] = calls
	}
	body := map[string]any{
		"id": p.id, "object": "chat.completion", "created": time.Now().Unix(), "model": p.model,
		"choices":            []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": p.finish}},
		"usage":              usageJSON(p.usage),
		"system_fingerprint": "fp_fake",
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func (s *Server) writeStream(w http.ResponseWriter, r *http.Request, req *chatRequest, a Answer, seq int) {
	p := s.prepare(req, a, seq)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush() // the headers go now, as OpenAI's do, whatever ChunkDelay
	}
	created := time.Now().Unix()
	send := func(v any) bool {
		if !sleep(r, a.ChunkDelay) {
			return false
		}
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id": p.id, "object": "chat.completion.chunk", "created": created, "model": p.model, "system_fingerprint": "fp_fake",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
		if req.includeUsage {
			c["usage"] = nil
		}
		return c
	}
	if !send(chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)) {
		return
	}
	for _, piece := range words(a.Reasoning) {
		if !send(chunk(map[string]any{"reasoning_content": piece}, nil)) {
			return
		}
	}
	for i, piece := range words(a.Text) {
		if !send(chunk(map[string]any{"content": piece}, nil)) {
			return
		}
		if i == 0 {
			s.mu.Lock()
			s.firstText = append(s.firstText, time.Now())
			s.mu.Unlock()
		}
	}
	for i, c := range p.calls {
		head := map[string]any{"index": i, "id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": ""}}
		if !send(chunk(map[string]any{"tool_calls": []any{head}}, nil)) {
			return
		}
		for _, piece := range pieces(c.Arguments, 5) {
			frag := map[string]any{"index": i, "function": map[string]any{"arguments": piece}}
			if !send(chunk(map[string]any{"tool_calls": []any{frag}}, nil)) {
				return
			}
		}
	}
	if !send(chunk(map[string]any{}, p.finish)) {
		return
	}
	if req.includeUsage {
		if !send(map[string]any{
			"id": p.id, "object": "chat.completion.chunk", "created": created, "model": p.model, "system_fingerprint": "fp_fake",
			"choices": []any{}, "usage": usageJSON(p.usage),
		}) {
			return
		}
	}
	io.WriteString(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

// words splits text after each space: the pieces join back to the text.
func words(text string) []string {
	var out []string
	for _, w := range strings.SplitAfter(text, " ") {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// pieces cuts s into pieces of n runes.
func pieces(s string, n int) []string {
	var out []string
	rs := []rune(s)
	for len(rs) > 0 {
		k := min(n, len(rs))
		out = append(out, string(rs[:k]))
		rs = rs[k:]
	}
	return out
}
