package translator

import (
	"hash/maphash"
	"sync"
)

// AggregateTracker carries the aggregate rule of genai-mapping.md c.4
// across batches. OTel exports a child before its parent, often in an
// earlier batch, so markAggregates alone cannot see that an `embeddings`
// root (AI SDK 7) sits over an inner `embeddings` span that already went
// out. The tracker remembers, for a bounded number of recent spans, which
// ones have a usage-bearing descendant, and marks them when they arrive.
// It is safe for concurrent use.
type AggregateTracker struct {
	mu    sync.Mutex
	limit int
	seed  maphash.Seed
	// marked holds span keys known to have a descendant with own usage.
	marked map[markKey]struct{}
	// ring remembers insertion order for eviction.
	ring []markKey
	next int
}

// markKey stands for a span by hashes of its trace and span ids. Two
// 64-bit hashes under a random seed make a false match (a span wrongly
// marked) as likely as a 128-bit collision. Unlike the id strings, the
// key holds no pointers: the map is smaller, the collector's GC does not
// scan it, and it keeps no span's id strings alive.
type markKey struct{ trace, id uint64 }

type spanKey struct{ trace, id string }

// NewAggregateTracker returns a tracker remembering at most limit spans.
func NewAggregateTracker(limit int) *AggregateTracker {
	if limit <= 0 {
		limit = 1
	}
	return &AggregateTracker{limit: limit, seed: maphash.MakeSeed(), marked: make(map[markKey]struct{}, limit), ring: make([]markKey, 0, limit)}
}

// Mark marks as aggregate the usage spans of this batch that an earlier
// batch showed to have a usage-bearing descendant, and records the parents
// of this batch's usage spans (and of spans already known to have one) for
// later batches. It returns how many spans it marked.
func (t *AggregateTracker) Mark(spans []Span) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for i := range spans {
		s := &spans[i]
		trace := maphash.String(t.seed, s.TraceID)
		_, known := t.marked[markKey{trace, maphash.String(t.seed, s.ID)}]
		if known && s.Usage != nil && !s.Aggregate {
			s.Aggregate = true
			n++
		}
		// A span with its own usage, or one above such a span, makes its
		// parent an aggregate too.
		if s.ParentID != "" && (known || s.Usage != nil) {
			t.add(markKey{trace, maphash.String(t.seed, s.ParentID)})
		}
	}
	return n
}

func (t *AggregateTracker) add(k markKey) {
	if _, ok := t.marked[k]; ok {
		return
	}
	if len(t.ring) < t.limit {
		t.ring = append(t.ring, k)
	} else {
		delete(t.marked, t.ring[t.next])
		t.ring[t.next] = k
		t.next = (t.next + 1) % t.limit
	}
	t.marked[k] = struct{}{}
}
