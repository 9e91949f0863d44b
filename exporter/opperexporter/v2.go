package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// API v2, one request per span. Ids are the translator's, chosen by the
// client, which makes every step idempotent:
//
//   - create answers 200: the span is new, or the server upserts (this
//     project's receiver does); its metrics are reconciled (below).
//   - create answers 409: the span exists (a retry, a replayed queue, or a
//     placeholder made for an early child). It is completed with PATCH, and
//     its metrics are reconciled.
//   - Metrics are reconciled after either answer, so a metric is never
//     stored twice: the span's stored metrics are listed and only the
//     missing ones posted, each with its translator id as Idempotency-Key.
//     The key makes a post sent twice (an answer lost) store once on this
//     project's receiver; the listing covers servers that ignore the key,
//     whether or not they answer 409 to a span create sent again.
//   - create answers 404 "Parent span not found": the parent was not
//     stored yet (OTel ends and exports children first). The child waits
//     for the parent if it is in flight in another batch, is held back
//     through retries for up to parent_wait, and after that gets a
//     placeholder parent (same id, marked meta.placeholder) that the real
//     parent completes with PATCH when it comes.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > bulkMaxBytes+1<<20 {
		return // a bulk body is at most bulkMaxBytes and one span; keep nothing larger
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

func (e *opperExporter) sendSpanV2(ctx context.Context, b *batch, i int32) outcome {
	s := &b.spans[i]
	end, _ := e.inflight.begin(s.ID)
	if end != nil {
		defer end()
	}
	return e.createV2(ctx, b, s, stageFirst)
}

// Stages of a span create, for the 404 "Parent span not found" path.
const (
	stageFirst       = iota // may wait for a parent in flight, hold, or make a placeholder
	stageWaited             // waited for the parent in flight: may hold or make a placeholder
	stagePlaceholder        // the placeholder exists: no more detours
)

func (e *opperExporter) createV2(ctx context.Context, b *batch, s *translator.Span, stage int) outcome {
	buf := getBuf()
	*buf = translator.AppendCreateSpanV2(*buf, s)
	r, err := e.call(ctx, opSpanCreate, http.MethodPost, e.spansURL, *buf, 0)
	putBuf(buf)
	if err != nil {
		return e.settle(ctx, b, networkFailure(err))
	}
	return e.afterCreateV2(ctx, b, s, r, stage)
}

// afterCreateV2 handles the answer to a span create (single or bulk item).
func (e *opperExporter) afterCreateV2(ctx context.Context, b *batch, s *translator.Span, r response, stage int) outcome {
	switch {
	case isSuccess(r.status):
		if s.ParentID != "" {
			e.orphans.remove(s.ID)
		}
		return e.sendMetrics(ctx, b, s)
	case r.status == http.StatusConflict:
		return e.completeExisting(ctx, b, s)
	case r.status == http.StatusNotFound && s.ParentID != "" && isParentNotFound(r.body):
		return e.missingParent(ctx, b, s, stage)
	}
	return e.settle(ctx, b, classify("create span", e.spansURL, r))
}

// isParentNotFound tells the documented 404 "Parent span not found" from a
// 404 for a wrong path.
func isParentNotFound(body []byte) bool {
	return strings.Contains(strings.ToLower(opperapi.ErrorMessage(body)), "parent")
}

func (e *opperExporter) missingParent(ctx context.Context, b *batch, s *translator.Span, stage int) outcome {
	if stage == stagePlaceholder {
		// The parent existed a moment ago; a second 404 is the server's
		// inconsistency, not ours to resolve now.
		return e.settle(ctx, b, failure{retry: true, err: fmt.Errorf("span %s: parent %s still not found", s.ID, s.ParentID)})
	}
	// The parent is being created by another push right now.
	if stage == stageFirst && e.inflight.wait(ctx, s.ParentID) {
		return e.createV2(ctx, b, s, stageWaited)
	}
	if e.holdForParent(ctx, s) {
		return e.settle(ctx, b, failure{retry: true, err: fmt.Errorf("span %s: %w", s.ID, errParentPending)})
	}
	r, err := e.call(ctx, opSpanPlaceholder, http.MethodPost, e.spansURL, placeholderBody(s), 0)
	if err != nil {
		return e.settle(ctx, b, networkFailure(err))
	}
	switch {
	case isSuccess(r.status):
		e.telemetry.ExporterOpperPlaceholderParents.Add(ctx, 1)
	case r.status == http.StatusConflict:
		// Made meanwhile, by a sibling or the real parent.
	default:
		return e.settle(ctx, b, classify("create placeholder parent", e.spansURL, r))
	}
	return e.createV2(ctx, b, s, stagePlaceholder)
}

// holdForParent reports whether s should wait (through a retry) for its
// parent rather than get a placeholder: only while retries are on and
// parent_wait has not passed since its parent was first found missing.
func (e *opperExporter) holdForParent(ctx context.Context, s *translator.Span) bool {
	if !e.retryEnabled || e.cfg.ParentWait <= 0 {
		return false
	}
	now := time.Now()
	first := e.orphans.getOrPut(s.ID, now)
	if now.Sub(first) >= e.cfg.ParentWait {
		e.orphans.remove(s.ID)
		return false
	}
	e.telemetry.ExporterOpperSpansHeld.Add(ctx, 1)
	return true
}

// PlaceholderName is the name of a placeholder parent until the real parent
// completes it.
const PlaceholderName = "(parent span not received yet)"

// placeholderBody is a minimal parent for s: the parent's id in s's trace,
// starting when s started, marked meta.placeholder. Its own parent is not
// known (OTel spans carry only their parent's id), so it is created as a
// root; v2 PATCH cannot set parent_id later.
func placeholderBody(s *translator.Span) []byte {
	req := opperapi.CreateSpanRequest{
		Name:      PlaceholderName,
		ID:        &s.ParentID,
		TraceID:   &s.TraceID,
		StartTime: opperapi.TimePtr(s.StartTime),
		Meta:      opperapi.Object(`{"placeholder":true}`),
	}
	body, _ := json.Marshal(&req)
	return body
}

// completeExisting PATCHes a span whose create answered 409 with all of
// its data, then reconciles its metrics.
func (e *opperExporter) completeExisting(ctx context.Context, b *batch, s *translator.Span) outcome {
	u := e.spansURL + "/" + url.PathEscape(s.ID)
	r, err := e.call(ctx, opSpanUpdate, http.MethodPatch, u, updateBody(s), 0)
	if err != nil {
		return e.settle(ctx, b, networkFailure(err))
	}
	if !isSuccess(r.status) {
		return e.settle(ctx, b, classify("update span", u, r))
	}
	return e.sendMetrics(ctx, b, s)
}

// updateBody is the PATCH body that makes a stored span (a placeholder, or
// an earlier attempt) equal to s. Input and output are strings in v2
// updates. meta.placeholder is set false in case the server merges meta.
func updateBody(s *translator.Span) []byte {
	meta := translator.WireMeta(s)
	meta["placeholder"] = false
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		metaJSON = []byte(`{"placeholder":false}`)
	}
	req := opperapi.UpdateSpanRequest{
		Name:      &s.Name,
		StartTime: opperapi.TimePtr(s.StartTime),
		EndTime:   opperapi.TimePtr(s.EndTime),
		Error:     s.Error,
		Meta:      opperapi.Object(metaJSON),
		Score:     s.Score,
	}
	if s.Type != "" {
		req.Type = &s.Type
	}
	if s.Input != nil {
		req.Input = opperapi.TextPtr(*s.Input)
	}
	if s.Output != nil {
		req.Output = opperapi.TextPtr(*s.Output)
	}
	body, _ := json.Marshal(&req)
	return body
}

// sendMetrics posts the span's metrics that are not stored yet: a retry or
// a replay never stores a metric twice. The listing costs a GET per span
// with metrics even when the span is new; a 200 to a create cannot tell
// a new span from an upserted one.
func (e *opperExporter) sendMetrics(ctx context.Context, b *batch, s *translator.Span) outcome {
	if f := e.postMissingMetrics(ctx, s.ID, s.Metrics); f != nil {
		return e.settle(ctx, b, *f)
	}
	return sent
}

// postMissingMetrics posts the metrics of span spanID that are not stored
// yet. A retryable failure is returned; a rejected metric is logged and
// skipped (it does not fail its span).
func (e *opperExporter) postMissingMetrics(ctx context.Context, spanID string, metrics []translator.Metric) *failure {
	if len(metrics) == 0 {
		return nil
	}
	u := e.spansURL + "/" + url.PathEscape(spanID) + "/metrics"
	stored, f := e.listMetrics(ctx, u)
	if f != nil {
		return f
	}
	missing := missingMetrics(stored, metrics)
	for i, m := range metrics {
		if !missing[i] {
			continue
		}
		v := m.Value
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		req := opperapi.CreateSpanMetricRequest{Dimension: m.Dimension, Value: &v}
		if m.Comment != "" {
			req.Comment = &m.Comment
		}
		body, _ := json.Marshal(&req)
		r, err := e.callKeyed(ctx, opMetricCreate, http.MethodPost, u, body, 0, m.ID)
		switch {
		case err != nil:
			f := networkFailure(err)
			return &f
		case isSuccess(r.status), r.status == http.StatusConflict:
			e.telemetry.ExporterOpperSpanMetricsSent.Add(ctx, 1)
		default:
			f := classify("create span metric", u, r)
			if f.retry {
				return &f
			}
			e.drops.log(failure{err: f.err, reason: "metric_" + f.reason, detail: f.detail}, 1)
		}
	}
	return nil
}

func (e *opperExporter) listMetrics(ctx context.Context, u string) ([]opperapi.SpanMetric, *failure) {
	var all []opperapi.SpanMetric
	for offset := 0; ; {
		lu := fmt.Sprintf("%s?limit=100&offset=%d", u, offset)
		r, err := e.call(ctx, opMetricList, http.MethodGet, lu, nil, maxDataResponseReadBytes)
		if err != nil {
			f := networkFailure(err)
			return nil, &f
		}
		if !isSuccess(r.status) {
			f := classify("list span metrics", lu, r)
			return nil, &f
		}
		var page opperapi.List[opperapi.SpanMetric]
		if err := json.Unmarshal(r.body, &page); err != nil {
			f := failure{retry: true, err: fmt.Errorf("list span metrics: %s: invalid response: %w", lu, err)}
			return nil, &f
		}
		all = append(all, page.Data...)
		offset += len(page.Data)
		if len(page.Data) == 0 || int64(offset) >= page.Meta.TotalCount {
			return all, nil
		}
	}
}

// missingMetrics tells which of ms are not among the stored metrics. A
// stored metric accounts for one of ms only: by id first (a server that
// kept the Idempotency-Key as the id), then by equal dimension, value and
// comment (a server that assigned its own ids), so two equal evaluations
// of one span need two stored metrics.
func missingMetrics(stored []opperapi.SpanMetric, ms []translator.Metric) []bool {
	missing := make([]bool, len(ms))
	used := make([]bool, len(stored))
	for i, m := range ms {
		missing[i] = true
		if m.ID == "" {
			continue
		}
		for j := range stored {
			if !used[j] && stored[j].ID == m.ID {
				used[j], missing[i] = true, false
				break
			}
		}
	}
	for i, m := range ms {
		if !missing[i] {
			continue
		}
		for j := range stored {
			st := &stored[j]
			c := ""
			if st.Comment != nil {
				c = *st.Comment
			}
			if !used[j] && st.Dimension == m.Dimension && st.Value == m.Value && c == m.Comment {
				used[j], missing[i] = true, false
				break
			}
		}
	}
	return missing
}
