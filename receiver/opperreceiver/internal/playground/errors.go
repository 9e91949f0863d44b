package playground

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidRequest is wrapped by every error about the Request itself
// (an unknown model, a reserved parameter, a message that cannot be sent),
// found before anything is sent.
var ErrInvalidRequest = errors.New("invalid playground request")

// ProviderError is a failed call to the provider: an HTTP error status, no
// answer in time, no connection, or an answer that cannot be read. Its
// text never holds the API key.
type ProviderError struct {
	// Provider is the provider's configured name.
	Provider string
	// Status is the HTTP status of the answer; 0 when none came (timeout,
	// network error).
	Status int
	// Message is, for an error status, the provider's own error message
	// (error.message of its JSON body, else a short excerpt of the body);
	// otherwise a sentence saying what went wrong.
	Message string
	// Retryable says the same call may succeed later: 408, 409, 429, 5xx,
	// timeouts and network errors.
	Retryable bool
	// RetryAfter is the provider's Retry-After on a 429 or 503, else 0.
	RetryAfter time.Duration

	cause error // context.DeadlineExceeded for a timeout, the network error
}

func (e *ProviderError) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		fmt.Fprintf(&b, "%s: ", e.Provider)
	}
	if e.Status < 300 {
		b.WriteString(e.Message)
		return b.String()
	}
	fmt.Fprintf(&b, "the provider answered %d %s", e.Status, http.StatusText(e.Status))
	if hint := e.hint(); hint != "" {
		fmt.Fprintf(&b, " (%s)", hint)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

func (e *ProviderError) hint() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "the API key was refused"
	case e.Status == http.StatusForbidden:
		return "the API key may not do this"
	case e.Status == http.StatusNotFound:
		return "unknown model, or the endpoint is not an OpenAI-compatible base URL"
	case e.Status == http.StatusTooManyRequests && e.RetryAfter > 0:
		return "rate limited; retry after " + seconds(e.RetryAfter)
	case e.Status == http.StatusTooManyRequests:
		return "rate limited"
	case e.Status >= 500:
		return "a provider-side failure; retrying may help"
	}
	return ""
}

// Unwrap gives the cause: context.DeadlineExceeded for a timeout, the
// network error for an unreachable provider, else nil.
func (e *ProviderError) Unwrap() error { return e.cause }

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return code >= 500
}

// retryAfter reads Retry-After (delay-seconds or an HTTP date) and the
// retry-after-ms some OpenAI-compatible APIs send.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 && ms < 1e9 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 || s > 86400 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// errorMessage is the provider's message in an error body: OpenAI's
// {"error": {"message"}}, Ollama's {"error": "..."}, or {"message"} /
// {"detail"}; else a short excerpt of the body.
func errorMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) == nil {
		var obj struct {
			Message json.RawMessage `json:"message"`
		}
		if json.Unmarshal(v.Error, &obj) == nil {
			if s := jsonText(obj.Message); s != "" {
				return s
			}
		}
		for _, raw := range []json.RawMessage{v.Error, v.Message, v.Detail} {
			if s := jsonText(raw); s != "" {
				return s
			}
		}
	}
	return excerpt(string(body), 200)
}

// jsonText is a JSON string's value, else the compact JSON of an object or
// array (FastAPI's detail is a list), else "".
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return excerpt(s, 2000)
	}
	t := strings.TrimSpace(string(raw))
	if t != "" && (t[0] == '{' || t[0] == '[') {
		return excerpt(t, 2000)
	}
	return ""
}

// excerpt is at most n bytes of s on one line, valid UTF-8.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// seconds prints whole seconds as "60s", the rest as time.Duration does.
func seconds(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
