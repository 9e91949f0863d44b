package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/opperotel/bridge/opperapi"
)

const (
	// maxHTTPResponseReadBytes caps what is read of an error or plain
	// success body, as in otlphttpexporter; the rest is drained.
	maxHTTPResponseReadBytes = 64 * 1024
	// maxDataResponseReadBytes caps bodies the exporter needs to parse
	// (bulk results, metric lists, v3 create answers).
	maxDataResponseReadBytes = 16 << 20
)

// operation names an API call for self-telemetry.
type operation int

const (
	opSpanCreate operation = iota
	opSpanUpdate
	opSpanGet
	opSpanBulk
	opSpanPlaceholder
	opMetricCreate
	opMetricList
	numOperations
)

var operationNames = [numOperations]string{"span_create", "span_update", "span_get", "span_bulk", "span_placeholder", "metric_create", "metric_list"}

var statusClasses = [...]string{"network", "2xx", "3xx", "4xx", "5xx"}

// requestAttrs are the precomputed attribute sets of the requests metric,
// indexed by operation and status class.
type requestAttrs [numOperations][len(statusClasses)]metric.AddOption

func newRequestAttrs() *requestAttrs {
	var a requestAttrs
	for op := range a {
		for c := range a[op] {
			a[op][c] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("operation", operationNames[op]),
				attribute.String("status_class", statusClasses[c]),
			))
		}
	}
	return &a
}

func statusClassIndex(status int) int {
	if status < 200 || status >= 600 {
		return 0
	}
	return status/100 - 1
}

// response is what the exporter keeps of an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte // capped; nil when the caller did not ask for it and the answer was a success
}

// call sends one request; err is set only when no HTTP answer came
// (network error, timeout, cancelled context). At most max_concurrency
// calls are in flight per exporter. Success bodies are read only when
// readLimit > 0; error bodies always, up to maxHTTPResponseReadBytes.
func (e *opperExporter) call(ctx context.Context, op operation, method, url string, body []byte, readLimit int64) (response, error) {
	return e.callKeyed(ctx, op, method, url, body, readLimit, "")
}

// callKeyed is call with an Idempotency-Key header when key is not empty.
func (e *opperExporter) callKeyed(ctx context.Context, op operation, method, url string, body []byte, readLimit int64, key string) (response, error) {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return response{}, ctx.Err()
	}
	defer func() { <-e.sem }()

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return response{}, fmt.Errorf("failed to make an HTTP request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", e.userAgent)
	req.Header.Set(opperapi.HeaderSource, opperapi.SourceExporter)
	if e.authorization != "" {
		req.Header.Set("Authorization", e.authorization)
	}
	if key != "" {
		req.Header.Set(opperapi.HeaderIdempotencyKey, key)
	}

	resp, err := e.client.Do(req)
	if err != nil {
		e.telemetry.ExporterOpperRequests.Add(ctx, 1, e.reqAttrs[op][0])
		return response{}, fmt.Errorf("failed to make an HTTP request to %s: %w", url, err)
	}
	defer func() {
		// Drain any remaining body so the connection is reused.
		_, _ = io.CopyN(io.Discard, resp.Body, maxHTTPResponseReadBytes)
		resp.Body.Close()
	}()
	e.telemetry.ExporterOpperRequests.Add(ctx, 1, e.reqAttrs[op][statusClassIndex(resp.StatusCode)])

	out := response{status: resp.StatusCode, header: resp.Header}
	limit := readLimit
	if !isSuccess(resp.StatusCode) {
		limit = maxHTTPResponseReadBytes
	}
	if limit > 0 {
		out.body, err = readResponseBody(resp, limit)
		if err != nil && isSuccess(resp.StatusCode) {
			return out, fmt.Errorf("failed to read the response of %s: %w", url, err)
		}
	}
	return out, nil
}

func isSuccess(status int) bool { return status >= 200 && status < 300 }

// readResponseBody reads at most limit bytes of the body.
func readResponseBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength == 0 {
		return nil, nil
	}
	// Size the buffer to the announced length; a chunked answer (no
	// length) starts small and grows, rather than reserving the whole
	// limit (16 MiB for a bulk answer) for every request.
	n := resp.ContentLength
	if n < 0 {
		n = 4 << 10
	}
	n = min(n, limit)
	buf := bytes.NewBuffer(make([]byte, 0, n))
	_, err := io.Copy(buf, io.LimitReader(resp.Body, limit))
	return buf.Bytes(), err
}

// failure is the classification of an unsuccessful request.
type failure struct {
	retry  bool
	err    error         // retryable errors may wrap exporterhelper's throttle error
	delay  time.Duration // the server's Retry-After, if any
	reason string        // drop reason (self-telemetry) when !retry
	detail string        // the server's message, for logs
}

// classify maps an HTTP status to retry or drop, the way otlphttpexporter
// does: 429 and 503 honour Retry-After, every other 5xx (and 408) is
// retried with backoff, and every other status is permanent.
func classify(what, url string, r response) failure {
	msg := opperapi.ErrorMessage(r.body)
	err := fmt.Errorf("%s: %s responded with HTTP Status Code %d", what, url, r.status)
	if msg != "" {
		err = fmt.Errorf("%w, Message=%s", err, msg)
	}
	if isRetryableStatus(r.status) {
		if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
			if delay, ok := retryAfter(r.header.Get("Retry-After"), time.Now()); ok {
				return failure{retry: true, err: exporterhelper.NewThrottleRetry(err, delay), delay: delay, detail: msg}
			}
		}
		return failure{retry: true, err: err, detail: msg}
	}
	return failure{err: err, reason: dropReason(r.status), detail: msg}
}

func networkFailure(err error) failure {
	return failure{retry: true, err: err}
}

func isRetryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

func dropReason(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return "not_found"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusUnprocessableEntity:
		return "invalid"
	}
	return "rejected"
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP-date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// dropLogger logs dropped spans at most once per interval per reason,
// with the server's message and how many were dropped since the last line.
type dropLogger struct {
	logger   *zap.Logger
	interval time.Duration
	msg      string
	mu       sync.Mutex
	last     map[string]time.Time
	dropped  map[string]int
}

func newDropLogger(logger *zap.Logger, interval time.Duration, msg string) *dropLogger {
	return &dropLogger{logger: logger, interval: interval, msg: msg, last: map[string]time.Time{}, dropped: map[string]int{}}
}

func (d *dropLogger) log(f failure, n int) {
	d.mu.Lock()
	d.dropped[f.reason] += n
	now := time.Now()
	if last, ok := d.last[f.reason]; ok && now.Sub(last) < d.interval {
		d.mu.Unlock()
		return
	}
	count := d.dropped[f.reason]
	d.dropped[f.reason] = 0
	d.last[f.reason] = now
	d.mu.Unlock()
	fields := []zap.Field{zap.String("reason", f.reason), zap.Error(f.err), zap.Int("dropped_since_last_log", count)}
	if f.detail != "" {
		fields = append(fields, zap.String("server_message", f.detail))
	}
	d.logger.Warn(d.msg, fields...)
}

var errParentPending = errors.New("parent span not stored yet; the span is held back for a retry (parent_wait)")
