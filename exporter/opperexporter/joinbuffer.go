package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"container/list"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opperotel/bridge/translator"
)

// joinBuffer holds, in storage mode, the content of GenAI log records
// whose span is not stored yet. Instrumentations emit a call's messages
// while it runs and export its span when it ends, in separate batches
// seconds apart, so waiting is the common case, not the exception.
//
// An entry leaves the buffer in one of three ways: a push of spans takes
// it for its span before writing (so the span is stored once, with its
// content), the retry sweep finds the span stored by someone else (the
// receiver, another replica) and updates it, or it is dropped: span_wait
// passed, or the buffer was full (oldest first). Whoever removes an entry
// owns it, so an entry is applied once even when a push and the sweep
// race for it.
type joinBuffer struct {
	maxBytes int64
	wait     time.Duration

	mu      sync.Mutex
	entries map[string]*list.Element // span id -> *waitingContent
	order   *list.List               // arrival order, oldest at the front
	bytes   int64
	records int64
	// n mirrors len(entries) for the pushes' lock-free check: most pushes
	// of spans find the buffer empty.
	n atomic.Int64
}

// waitingContent is one span's log content in the buffer.
type waitingContent struct {
	lc      translator.LogContent
	size    int64
	arrived time.Time
	nextTry time.Time
	tries   int
}

func newJoinBuffer(maxBytes int64, wait time.Duration) *joinBuffer {
	return &joinBuffer{maxBytes: maxBytes, wait: wait, entries: map[string]*list.Element{}, order: list.New()}
}

// add puts lc in the buffer, merged into what already waits for its span.
// It returns the records it evicted to make room (buffer_full), lc's own
// when lc alone is larger than the buffer.
func (j *joinBuffer) add(lc translator.LogContent, now time.Time) (evicted int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.addLocked(&waitingContent{lc: lc, arrived: now, nextTry: now.Add(sweepFirstRetry)})
}

func (j *joinBuffer) addLocked(w *waitingContent) (evicted int) {
	if el, ok := j.entries[w.lc.SpanID]; ok {
		have := el.Value.(*waitingContent)
		j.bytes -= have.size
		have.lc.Merge(&w.lc)
		have.size = int64(have.lc.Size())
		j.bytes += have.size
		j.records += int64(w.lc.Records)
		// The span's own wait started with its first records.
	} else {
		w.size = int64(w.lc.Size())
		if w.size > j.maxBytes {
			return w.lc.Records
		}
		j.entries[w.lc.SpanID] = j.order.PushBack(w)
		j.bytes += w.size
		j.records += int64(w.lc.Records)
	}
	for j.bytes > j.maxBytes && j.order.Len() > 0 {
		old := j.removeLocked(j.order.Front())
		evicted += old.lc.Records
	}
	j.n.Store(int64(len(j.entries)))
	return evicted
}

func (j *joinBuffer) removeLocked(el *list.Element) *waitingContent {
	w := j.order.Remove(el).(*waitingContent)
	delete(j.entries, w.lc.SpanID)
	j.bytes -= w.size
	j.records -= int64(w.lc.Records)
	return w
}

// addUnlessWritten adds lc as add does, unless written has its span: then
// it reports false and the caller fills the stored span. The check and
// the add are one step under the buffer's lock, as markWritten's add and
// take are, so records that race with their span's write are either
// taken by the write or fill the stored span, never left to the sweep.
func (j *joinBuffer) addUnlessWritten(lc translator.LogContent, now time.Time, written *recentSpans) (evicted int, added bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if written.has(lc.SpanID) {
		return 0, false
	}
	return j.addLocked(&waitingContent{lc: lc, arrived: now, nextTry: now.Add(sweepFirstRetry)}), true
}

// markWritten records that spans are stored, and removes and returns the
// content that came for them meanwhile (nil if none), in the order of
// spans.
func (j *joinBuffer) markWritten(spans []translator.Span, written *recentSpans) []*waitingContent {
	j.mu.Lock()
	defer j.mu.Unlock()
	written.add(spans)
	if len(j.entries) == 0 {
		return nil
	}
	return j.takeLocked(spans)
}

// takeFor removes and returns the waiting content of spans, in the order
// of spans (nil where none waits).
func (j *joinBuffer) takeFor(spans []translator.Span) []*waitingContent {
	if j.n.Load() == 0 {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.takeLocked(spans)
}

func (j *joinBuffer) takeLocked(spans []translator.Span) []*waitingContent {
	var taken []*waitingContent
	for i := range spans {
		el, ok := j.entries[spans[i].ID]
		if !ok {
			continue
		}
		if taken == nil {
			taken = make([]*waitingContent, len(spans))
		}
		taken[i] = j.removeLocked(el)
	}
	j.n.Store(int64(len(j.entries)))
	return taken
}

// putBack returns entries taken but not applied (the write failed). It
// returns the records evicted to make room for them.
func (j *joinBuffer) putBack(ws []*waitingContent) (evicted int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, w := range ws {
		if w != nil {
			evicted += j.addLocked(w)
		}
	}
	return evicted
}

// due removes and returns the entries to try again now: those whose
// retry time has come, and those whose span_wait has passed (expired:
// their last try).
func (j *joinBuffer) due(now time.Time) (retry, expired []*waitingContent) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for el := j.order.Front(); el != nil; {
		next := el.Next()
		w := el.Value.(*waitingContent)
		switch {
		case now.Sub(w.arrived) >= j.wait:
			expired = append(expired, j.removeLocked(el))
		case !now.Before(w.nextTry):
			w.tries++
			w.nextTry = now.Add(min(sweepFirstRetry<<w.tries, sweepMaxRetry))
			retry = append(retry, j.removeLocked(el))
		}
		el = next
	}
	j.n.Store(int64(len(j.entries)))
	return retry, expired
}

// drain removes and returns everything (shutdown).
func (j *joinBuffer) drain() []*waitingContent {
	j.mu.Lock()
	defer j.mu.Unlock()
	var all []*waitingContent
	for el := j.order.Front(); el != nil; el = j.order.Front() {
		all = append(all, j.removeLocked(el))
	}
	j.n.Store(0)
	return all
}

// stats returns the entries and records waiting, and their bytes.
func (j *joinBuffer) stats() (entries int, records, bytes int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.entries), j.records, j.bytes
}

// The sweep looks for spans that were stored without passing through
// this exporter (written by the receiver or another replica): first when
// a span of this exporter would usually have come (the SDKs export spans
// every 5 s, records every second), then less and less often.
const (
	sweepInterval   = time.Second
	sweepFirstRetry = 5 * time.Second
	sweepMaxRetry   = 30 * time.Second
)

// recentSpans remembers the ids of the spans this exporter wrote lately,
// as hashes in two generations of at most recentSpansPerGeneration each:
// records of a span it wrote fill the stored span at once, and the others
// wait without a lookup that would almost always miss. A false positive
// costs one lookup.
type recentSpans struct {
	mu       sync.Mutex
	seed     maphash.Seed
	cur, old map[uint64]struct{}
}

const recentSpansPerGeneration = 1 << 16

func newRecentSpans() *recentSpans {
	return &recentSpans{seed: maphash.MakeSeed(), cur: map[uint64]struct{}{}}
}

func (r *recentSpans) add(spans []translator.Span) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range spans {
		if len(r.cur) >= recentSpansPerGeneration {
			r.old, r.cur = r.cur, make(map[uint64]struct{}, recentSpansPerGeneration)
		}
		r.cur[maphash.String(r.seed, spans[i].ID)] = struct{}{}
	}
}

func (r *recentSpans) has(id string) bool {
	h := maphash.String(r.seed, id)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.cur[h]
	if !ok {
		_, ok = r.old[h]
	}
	return ok
}
