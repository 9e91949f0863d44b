package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// Bulk: `POST /v2/spans/batch` takes a JSON array of create bodies and
// answers one result per item (opperapi.BatchResponse), each with the
// status a single create would have had. This project's receiver offers
// it; the hosted API does not (it answers 404 or 405), and `bulk: auto`
// then falls back to one request per span for good.

const (
	bulkMaxItems = 1000
	bulkMaxBytes = 4 << 20
)

// pushBulk sends the batch's spans in bulk requests, depth by depth, so
// parents are stored before their children. Items the server answers
// 409 or 404 (parent) for take the single-span path. If the endpoint does
// not exist, pushBulk returns with the spans still pending.
func (e *opperExporter) pushBulk(ctx context.Context, b *batch) {
	for start := 0; start < len(b.order); {
		end := start
		for end < len(b.order) && b.depth[b.order[end]] == b.depth[b.order[start]] {
			end++
		}
		if !e.bulkLevel(ctx, b, b.order[start:end]) {
			return
		}
		// Children of spans that must be retried go with them. Spans left
		// pending (a chunk too large) go one by one, and so do the levels
		// below them, in order.
		left := false
		for _, i := range b.order[start:end] {
			switch b.state[i] {
			case retry:
				b.markRetry(i)
			case pending:
				left = true
			}
		}
		if left {
			return
		}
		start = end
	}
}

// bulkLevel sends one depth level; it returns false when the bulk
// endpoint is unsupported. Each chunk is sent as soon as it is encoded,
// while the next is encoded: its body is still in the cache when it is
// written out, and the level's bodies are not all held at once.
func (e *opperExporter) bulkLevel(ctx context.Context, b *batch, level []int32) bool {
	var items []int32
	for _, i := range level {
		if b.state[i] == pending {
			items = append(items, i)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	supported := true
	send := func(c bulkChunk) bool {
		ok := e.sendChunk(ctx, b, c)
		if !ok {
			mu.Lock()
			supported = false
			mu.Unlock()
		}
		return ok
	}
	e.chunk(b, items, func(c bulkChunk) bool {
		if e.bulkState.Load() == bulkUnknown {
			// Probe with this chunk alone before sending others.
			return send(c)
		}
		wg.Go(func() { send(c) })
		return true
	})
	wg.Wait()
	return supported
}

type bulkChunk struct {
	items []int32
	body  *[]byte
}

// chunk encodes items into request bodies of at most bulkMaxItems spans
// and about bulkMaxBytes, and hands each to send as it is complete; it
// stops early when send returns false.
func (e *opperExporter) chunk(b *batch, items []int32, send func(bulkChunk) bool) {
	var cur bulkChunk
	for _, i := range items {
		if cur.body == nil {
			cur.body = getBuf()
			if hint := int(e.bulkBodySize.Load()); cap(*cur.body) < hint {
				*cur.body = slices.Grow(*cur.body, min(len(items)*hint/bulkMaxItems+hint/8, hint))
			}
			*cur.body = append(*cur.body, '[')
		} else {
			*cur.body = append(*cur.body, ',')
		}
		*cur.body = translator.AppendCreateSpanV2(*cur.body, &b.spans[i])
		cur.items = append(cur.items, i)
		if len(cur.items) >= bulkMaxItems || len(*cur.body) >= bulkMaxBytes {
			e.bulkBodySize.Store(int64(len(*cur.body)))
			*cur.body = append(*cur.body, ']')
			if !send(cur) {
				return
			}
			cur = bulkChunk{}
		}
	}
	if cur.body != nil {
		*cur.body = append(*cur.body, ']')
		send(cur)
	}
}

// sendChunk sends one bulk request and settles its items; it returns
// false, leaving them pending, if the endpoint is unsupported.
func (e *opperExporter) sendChunk(ctx context.Context, b *batch, c bulkChunk) bool {
	defer e.inflight.beginGroup(func(id string) bool {
		return slices.ContainsFunc(c.items, func(i int32) bool { return b.spans[i].ID == id })
	})()
	r, err := e.call(ctx, opSpanBulk, http.MethodPost, e.bulkURL, *c.body, maxDataResponseReadBytes)
	putBuf(c.body)
	if err != nil {
		f := networkFailure(err)
		b.fail(f)
		for _, i := range c.items {
			b.state[i] = retry
		}
		return true
	}
	switch {
	case r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed || r.status == http.StatusNotImplemented:
		if e.cfg.Bulk == BulkAuto {
			if e.bulkState.CompareAndSwap(bulkUnknown, bulkUnsupported) {
				e.logger.Info("The endpoint has no bulk span API; sending one request per span from now on",
					zap.String("url", e.bulkURL), zap.Int("status", r.status))
			}
			e.bulkState.Store(bulkUnsupported)
			return false
		}
	case r.status == http.StatusRequestEntityTooLarge && len(c.items) > 1:
		// Too big as a whole: the single-span path takes these items.
		return true
	case isSuccess(r.status):
		e.bulkState.CompareAndSwap(bulkUnknown, bulkSupported)
		e.settleItems(ctx, b, c.items, r)
		return true
	}
	f := classify("create spans in bulk", e.bulkURL, r)
	if f.retry {
		b.fail(f)
		for _, i := range c.items {
			b.state[i] = retry
		}
	} else {
		e.drop(ctx, b, f, len(c.items))
		for _, i := range c.items {
			b.state[i] = dropped
		}
	}
	return true
}

// settleItems applies the per-item results of a bulk answer. An item
// without a result is retried.
func (e *opperExporter) settleItems(ctx context.Context, b *batch, items []int32, r response) {
	resp, err := opperapi.DecodeBatchResponse(r.body)
	if err != nil {
		b.fail(failure{retry: true, err: fmt.Errorf("create spans in bulk: %s: invalid response: %w", e.bulkURL, err)})
		for _, i := range items {
			b.state[i] = retry
		}
		return
	}
	got := make([]bool, len(items))
	for _, res := range resp.Results {
		if res.Index < 0 || res.Index >= len(items) || got[res.Index] {
			continue
		}
		got[res.Index] = true
		i := items[res.Index]
		s := &b.spans[i]
		item := response{status: res.Status}
		if res.Error != nil {
			item.body, _ = json.Marshal(res.Error)
		}
		if isSuccess(res.Status) && len(s.Metrics) == 0 {
			b.state[i] = sent
			continue
		}
		// 409, 404 (parent), metrics: the single-span path from here.
		b.state[i] = e.afterCreateV2(ctx, b, s, item, stageFirst)
	}
	for k, ok := range got {
		if !ok {
			b.fail(failure{retry: true, err: fmt.Errorf("create spans in bulk: %s: no result for item %d", e.bulkURL, k)})
			b.state[items[k]] = retry
		}
	}
}
