package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what a closed-loop load saw.
type Result struct {
	Start, End time.Time
	Requests   int
	// Statuses counts answers by HTTP status ("200", "429", ...),
	// "network" for a request that got no answer, or "canceled" for one
	// in flight when the load ended.
	Statuses map[string]int
	// Acked are the traces of every request answered 200.
	Acked []string
	// AckedSpans counts their spans.
	AckedSpans int
}

// Sender posts requests to an OTLP/HTTP endpoint from Conns connections,
// each sending its next request as soon as the last was answered.
type Sender struct {
	URL   string // e.g. http://127.0.0.1:4318/v1/traces
	Conns int
	// Retry sends a refused request again (after Retry-After, or
	// RetryWait) instead of going on to the next, as an OTLP exporter would.
	Retry     bool
	RetryWait time.Duration
	client    *http.Client
}

// NewSender returns a sender to url with conns connections.
func NewSender(url string, conns int) *Sender {
	return &Sender{
		URL: url, Conns: conns, RetryWait: 100 * time.Millisecond,
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns}},
	}
}

// Run sends next() until it reports no more, ctx ends or stop is closed.
// next is called concurrently.
func (s *Sender) Run(ctx context.Context, next func() (Request, bool)) Result {
	res := Result{Start: time.Now(), Statuses: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range s.Conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, ok := next()
				if !ok {
					return
				}
				for {
					status, wait := s.post(ctx, req.Body)
					mu.Lock()
					res.Requests++
					res.Statuses[status]++
					if status == "200" {
						res.Acked = append(res.Acked, req.Traces...)
						res.AckedSpans += len(req.Traces) * SpansPerTrace
					}
					mu.Unlock()
					if status == "200" || !s.Retry || ctx.Err() != nil {
						break
					}
					if wait == 0 {
						wait = s.RetryWait
					}
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
			}
		})
	}
	wg.Wait()
	res.End = time.Now()
	return res
}

// post sends one body and returns the status and any Retry-After.
func (s *Sender) post(ctx context.Context, body []byte) (string, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return "error", 0
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := s.client.Do(req)
	if err != nil && ctx.Err() != nil {
		// The load ended (its time ran out) with this request in flight.
		return "canceled", 0
	}
	if err != nil {
		// The collector may be gone (the tests kill it): wait a little
		// so a loop against a dead port does not spin.
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
		return "network", 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var wait time.Duration
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		var sec int
		if _, err := fmt.Sscan(ra, &sec); err == nil {
			wait = time.Duration(sec) * time.Second
		}
	}
	return fmt.Sprint(resp.StatusCode), wait
}

// Sequence hands out requests 0..n-1 from a pre-built list, concurrently.
func Sequence(reqs []Request) func() (Request, bool) {
	var i atomic.Int64
	return func() (Request, bool) {
		k := int(i.Add(1) - 1)
		if k >= len(reqs) {
			return Request{}, false
		}
		return reqs[k], true
	}
}

// Endless builds request after request with g, concurrently, until stopped.
func Endless(g *Generator) func() (Request, bool) {
	var i atomic.Int64
	return func() (Request, bool) {
		return g.Request(int(i.Add(1) - 1)), true
	}
}
