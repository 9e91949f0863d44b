package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// API v3: the server assigns span ids, and a trace id for every span
// created without one. The exporter keeps bounded LRU maps from the
// translator's ids to the server's, creates parents first (in a batch, and
// across batches by waiting for a parent in flight), and holds a child back
// through retries for up to parent_wait while its parent is unknown.
//
// Limits, by the nature of server-assigned ids:
//   - A child whose parent never becomes known (parent_wait passed, the
//     process restarted, or the map forgot it) is created without
//     parent_id: inside the parent's trace if that trace is known, else as
//     the root of a new trace that the trace's later spans join.
//   - Idempotence lasts as long as the map remembers the span: a retry in
//     the same process is skipped, but a replay after a restart, or a create
//     whose answer was lost (timeout), stores the span again.
//   - v3 has no metrics endpoint; span metrics travel in `metadata.metrics`.

type serverIDs struct {
	span  string
	trace string
}

type idMap struct {
	spans  *lru[serverIDs] // translator span id -> server span and trace id
	traces *lru[string]    // translator trace id -> server trace id
}

func newIDMap(spans, traces int) *idMap {
	return &idMap{spans: newLRU[serverIDs](spans), traces: newLRU[string](traces)}
}

func (e *opperExporter) sendSpanV3(ctx context.Context, b *batch, i int32) outcome {
	s := &b.spans[i]
	end, busy := e.inflight.begin(s.ID)
	for end == nil {
		// The same span is being created by another push (a retry racing
		// the original): wait, and reuse its result.
		select {
		case <-busy:
		case <-ctx.Done():
			return e.settle(ctx, b, networkFailure(ctx.Err()))
		}
		end, busy = e.inflight.begin(s.ID)
	}
	defer end()
	if _, ok := e.ids.spans.get(s.ID); ok {
		return sent // created earlier in this process
	}

	var parent serverIDs
	if s.ParentID != "" {
		var ok bool
		parent, ok = e.ids.spans.get(s.ParentID)
		if !ok && e.inflight.wait(ctx, s.ParentID) {
			parent, ok = e.ids.spans.get(s.ParentID)
		}
		if !ok && e.holdForParent(ctx, s) {
			return e.settle(ctx, b, failure{retry: true, err: fmt.Errorf("span %s: %w", s.ID, errParentPending)})
		}
	}
	traceID := parent.trace
	if traceID == "" {
		var ok bool
		traceID, ok = e.ids.traces.get(s.TraceID)
		if !ok {
			// The first span of a trace makes the server trace; the trace's
			// other spans wait for it so they join the same one.
			key := "trace:" + s.TraceID
			tend, tbusy := e.inflight.begin(key)
			for tend == nil {
				select {
				case <-tbusy:
				case <-ctx.Done():
					return e.settle(ctx, b, networkFailure(ctx.Err()))
				}
				if traceID, ok = e.ids.traces.get(s.TraceID); ok {
					break
				}
				tend, tbusy = e.inflight.begin(key)
			}
			if tend != nil {
				defer tend()
			}
		}
	}

	req := translator.CreateSpanRequestV3(s, traceID, parent.span)
	if len(s.Metrics) > 0 {
		req.Metadata = metricsMetadata(s.Metrics)
	}
	body, err := json.Marshal(&req)
	if err != nil {
		return e.drop(ctx, b, failure{err: fmt.Errorf("encode span %s: %w", s.ID, err), reason: "invalid"}, 1)
	}
	r, err := e.call(ctx, opSpanCreate, http.MethodPost, e.spansV3URL, body, maxDataResponseReadBytes)
	if err != nil {
		return e.settle(ctx, b, networkFailure(err))
	}
	if !isSuccess(r.status) {
		return e.settle(ctx, b, classify("create span", e.spansV3URL, r))
	}
	var resp opperapi.Envelope[opperapi.CreateSpanResponseV3]
	if err := json.Unmarshal(r.body, &resp); err != nil || resp.Data.ID == "" {
		// Stored, but its children cannot be linked to it.
		e.logger.Warn("Opper v3 span create answered without a span id; its children will not be linked",
			zap.String("url", e.spansV3URL), zap.Error(err))
		return sent
	}
	e.ids.spans.put(s.ID, serverIDs{span: resp.Data.ID, trace: resp.Data.TraceID})
	if resp.Data.TraceID != "" {
		e.ids.traces.getOrPut(s.TraceID, resp.Data.TraceID)
	}
	e.orphans.remove(s.ID)
	return sent
}

func metricsMetadata(ms []translator.Metric) opperapi.Object {
	type metric struct {
		Dimension string  `json:"dimension"`
		Value     float64 `json:"value"`
		Comment   string  `json:"comment,omitempty"`
	}
	out := struct {
		Metrics []metric `json:"metrics"`
	}{Metrics: make([]metric, 0, len(ms))}
	for _, m := range ms {
		out.Metrics = append(out.Metrics, metric{Dimension: m.Dimension, Value: m.Value, Comment: m.Comment})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil // NaN or Inf values: nothing sensible to send
	}
	return opperapi.Object(b)
}
