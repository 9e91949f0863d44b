package playground

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opperotel/bridge/translator"
)

const (
	// maxAnswerBytes caps a non-streamed answer's body and a streamed
	// answer's assembled text, reasoning and arguments.
	maxAnswerBytes = 8 << 20
	// maxLineBytes caps one line (and one event) of a streamed answer.
	maxLineBytes = 1 << 20
	// maxErrorBytes caps what is read of an error answer.
	maxErrorBytes = 64 << 10
)

// Request is one call: the conversation to send and how.
type Request struct {
	// Model is one of the provider's configured models.
	Model string
	// Messages is the conversation, in canonical form (see toChatMessages
	// for how each part is sent).
	Messages []translator.Message
	// Parameters are sent as top-level fields of the request: temperature,
	// top_p, max_tokens, max_completion_tokens, presence_penalty,
	// frequency_penalty, stop, seed, tool_choice, response_format, ...
	// The fields the playground sets itself (model, messages, stream,
	// stream_options, tools, functions, function_call) are refused, and n
	// may only be 1.
	Parameters map[string]any
	// Tools are OpenAI tool objects ({"type": "function", "function":
	// {...}}), sent as tools.
	Tools []json.RawMessage
}

// Result is the provider's answer.
type Result struct {
	// Message is the assistant's turn: a reasoning part when the provider
	// sends its reasoning, a text part, then a tool_call part per call.
	Message      translator.Message
	Usage        Usage
	FinishReason string
	// Model is the model as the provider named it in its answer (often a
	// dated version of the one asked for).
	Model string
	// FirstByte is, for Run, the time from sending the request to the
	// first byte of the answer; for Stream, to the first delta (time to
	// first token).
	FirstByte time.Duration
}

// Usage is the provider's token count; zero when it sent none.
type Usage struct {
	InputTokens  int64
	OutputTokens int64
	TotalTokens  int64
}

// Delta is one piece of a streamed answer; exactly one field is set.
type Delta struct {
	// Text is the next piece of the answer's text, as it arrives.
	Text string
	// Reasoning is the next piece of the model's reasoning, for providers
	// that stream it (reasoning_content or reasoning).
	Reasoning string
	// ToolCall is a whole tool call, with its id, name and complete
	// arguments: the calls are assembled from their fragments and
	// delivered, in order, when the provider sends the finish reason (or
	// ends the stream).
	ToolCall *translator.Part
}

// errTimedOut is the cause a call's context is cancelled with when the
// provider's time is up.
var errTimedOut = errors.New("playground: provider timed out")

// Client calls one provider. It is safe for concurrent use.
type Client struct {
	name    string
	url     string // endpoint + /chat/completions
	host    string
	models  []string
	timeout time.Duration
	// apiKey is kept in a closure so that no printing or reflection of a
	// Client reaches it.
	apiKey func() string
	hc     *http.Client

	maxAnswer, maxLine int
}

// NewClient returns a client for p, sending with hc (a new http.Client
// when nil). The provider's timeout is applied per call; hc's own Timeout,
// if set, applies too.
func NewClient(p Provider, hc *http.Client) (*Client, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{}
	}
	u, _ := url.Parse(p.Endpoint) // valid: checked by Validate
	key := string(p.APIKey)
	return &Client{
		name:      p.Name,
		url:       strings.TrimRight(p.Endpoint, "/") + "/chat/completions",
		host:      u.Host,
		models:    slices.Clone(p.Models),
		timeout:   p.timeout(),
		apiKey:    func() string { return key },
		hc:        hc,
		maxAnswer: maxAnswerBytes,
		maxLine:   maxLineBytes,
	}, nil
}

// String names the client without its key.
func (c *Client) String() string {
	return fmt.Sprintf("playground.Client{provider: %q, url: %q}", c.name, c.url)
}

// GoString is String: %#v must not show the key either.
func (c *Client) GoString() string { return c.String() }

// Run sends the request and waits for the whole answer.
func (c *Client) Run(ctx context.Context, req Request) (Result, error) {
	body, err := c.requestBody(req, false)
	if err != nil {
		return Result{}, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(parent, c.timeout, errTimedOut)
	defer cancel()
	var firstByte atomic.Int64
	start := time.Now()
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { firstByte.Store(int64(time.Since(start))) }}
	resp, err := c.post(httptrace.WithClientTrace(ctx, trace), body, false)
	if err != nil {
		return Result{}, c.transportError(parent, ctx, err, false)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return Result{}, c.statusError(resp)
	}
	data, err := readCapped(resp.Body, c.maxAnswer)
	if err != nil {
		return Result{}, c.readError(parent, ctx, resp.StatusCode, err, false)
	}
	res, err := parseCompletion(data, newAssembler(c.maxAnswer, nil))
	if err != nil {
		return Result{}, c.readError(parent, ctx, resp.StatusCode, err, false)
	}
	res.FirstByte = time.Duration(firstByte.Load())
	return res, nil
}

// Stream sends the request with stream: true (and usage asked for) and
// calls onDelta with each piece of the answer as it comes; see Delta. An
// error from onDelta stops the call and is returned as it is. The
// provider's timeout bounds the wait for the answer and then every gap
// between two of its lines, not the whole answer. A provider that answers
// with a whole JSON completion instead of a stream is read as one.
func (c *Client) Stream(ctx context.Context, req Request, onDelta func(Delta) error) (Result, error) {
	body, err := c.requestBody(req, true)
	if err != nil {
		return Result{}, err
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	timer := time.AfterFunc(c.timeout, func() { cancel(errTimedOut) })
	defer timer.Stop()

	start := time.Now()
	resp, err := c.post(ctx, body, true)
	if err != nil {
		return Result{}, c.transportError(parent, ctx, err, false)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return Result{}, c.statusError(resp)
	}
	timer.Reset(c.timeout)

	var firstByte time.Duration
	emit := func(d Delta) error {
		if firstByte == 0 {
			firstByte = time.Since(start)
		}
		if onDelta == nil {
			return nil
		}
		// The caller's time (writing to a slow browser) is not the
		// provider's silence.
		timer.Stop()
		defer timer.Reset(c.timeout)
		return onDelta(d)
	}
	a := newAssembler(c.maxAnswer, emit)
	var res Result
	if isJSON(resp.Header.Get("Content-Type")) {
		var data []byte
		if data, err = readCapped(resp.Body, c.maxAnswer); err == nil {
			res, err = parseCompletion(data, a)
		}
	} else {
		res, err = readStream(resp.Body, c.maxLine, func() { timer.Reset(c.timeout) }, a)
	}
	if err != nil {
		if ce, ok := errors.AsType[*callbackError](err); ok {
			return Result{}, ce.err
		}
		return Result{}, c.readError(parent, ctx, resp.StatusCode, err, true)
	}
	if firstByte == 0 {
		firstByte = time.Since(start)
	}
	res.FirstByte = firstByte
	return res, nil
}

// reserved are the request fields the playground sets itself.
var reserved = map[string]string{
	"model":          "the playground sets it from the chosen model",
	"messages":       "the playground sends the conversation",
	"stream":         "the playground chooses streaming",
	"stream_options": "the playground chooses streaming",
	"tools":          "pass tools as the request's tools",
	"functions":      "pass tools as the request's tools",
	"function_call":  "use tool_choice with tools",
}

func (c *Client) requestBody(req Request, stream bool) ([]byte, error) {
	if req.Model == "" {
		return nil, fmt.Errorf("%w: no model chosen", ErrInvalidRequest)
	}
	if !slices.Contains(c.models, req.Model) {
		return nil, fmt.Errorf("%w: model %q is not one of provider %q's models (%s)", ErrInvalidRequest, req.Model, c.name, strings.Join(c.models, ", "))
	}
	fields := make(map[string]any, len(req.Parameters)+5)
	for k, v := range req.Parameters {
		if why, ok := reserved[k]; ok {
			return nil, fmt.Errorf("%w: parameter %q cannot be set: %s", ErrInvalidRequest, k, why)
		}
		if k == "" {
			return nil, fmt.Errorf("%w: a parameter has an empty name", ErrInvalidRequest)
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: parameter %q is not a JSON value: %v", ErrInvalidRequest, k, err)
		}
		if k == "n" && string(raw) != "1" {
			return nil, fmt.Errorf("%w: parameter \"n\" must be 1: the playground reads one answer", ErrInvalidRequest)
		}
		fields[k] = json.RawMessage(raw)
	}
	msgs, err := toChatMessages(req.Messages)
	if err != nil {
		return nil, err
	}
	for i, t := range req.Tools {
		if tt := bytes.TrimSpace(t); len(tt) == 0 || tt[0] != '{' || !json.Valid(tt) {
			return nil, fmt.Errorf("%w: tool %d is not a JSON object", ErrInvalidRequest, i+1)
		}
	}
	fields["model"] = req.Model
	fields["messages"] = msgs
	if len(req.Tools) > 0 {
		fields["tools"] = req.Tools
	}
	if stream {
		fields["stream"] = true
		fields["stream_options"] = map[string]bool{"include_usage": true}
	}
	return json.Marshal(fields)
}

func (c *Client) post(ctx context.Context, body []byte, stream bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", "opperotel-bridge-playground")
	if key := c.apiKey(); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return c.hc.Do(req)
}

// statusError reads an error answer.
func (c *Client) statusError(resp *http.Response) error {
	data, _ := readCapped(resp.Body, maxErrorBytes) // a cut body still has its start
	e := &ProviderError{
		Provider:  c.name,
		Status:    resp.StatusCode,
		Message:   c.redact(errorMessage(data)),
		Retryable: retryableStatus(resp.StatusCode),
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header, time.Now())
	}
	return e
}

// transportError explains a failure to get or read an answer: the caller
// gave up (its own error is returned), the provider's time ran out, or
// the network failed.
func (c *Client) transportError(parent, ctx context.Context, err error, midAnswer bool) error {
	if parent.Err() != nil {
		return fmt.Errorf("%s: %w", c.name, context.Cause(parent))
	}
	if errors.Is(context.Cause(ctx), errTimedOut) {
		msg := "the provider did not answer within " + seconds(c.timeout)
		if midAnswer {
			msg = "the provider sent nothing for " + seconds(c.timeout) + " in the middle of its answer"
		}
		return &ProviderError{Provider: c.name, Message: msg, Retryable: true, cause: context.DeadlineExceeded}
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err // its text repeats the URL
	}
	msg := "cannot reach the provider at " + c.host + ": " + err.Error()
	if midAnswer {
		msg = "the connection to the provider at " + c.host + " broke: " + err.Error()
	}
	return &ProviderError{Provider: c.name, Message: c.redact(msg), Retryable: true, cause: err}
}

// readError explains a failure after the status line.
func (c *Client) readError(parent, ctx context.Context, status int, err error, stream bool) error {
	ae, ok := errors.AsType[*answerError](err)
	if !ok {
		return c.transportError(parent, ctx, err, stream)
	}
	msg := "the provider's answer cannot be read: " + ae.msg
	if ae.providerSaid {
		msg = "the provider failed while answering: " + ae.msg
	}
	return &ProviderError{Provider: c.name, Status: status, Message: c.redact(msg)}
}

func (c *Client) redact(s string) string {
	if key := c.apiKey(); key != "" {
		s = strings.ReplaceAll(s, key, "[REDACTED]")
	}
	return s
}

// readCapped reads r whole, or fails when it holds more than max bytes.
func readCapped(r io.Reader, max int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return data, err
	}
	if len(data) > max {
		return data[:max], malformed("the answer is larger than the %s limit", byteSize(max))
	}
	return data, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
