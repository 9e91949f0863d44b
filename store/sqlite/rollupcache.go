package sqlite

import (
	"sync/atomic"

	"github.com/opperotel/bridge/translator"
)

// The writer keeps the light spans (rollup.go) of the traces it wrote
// recently, so a write into an existing trace recomputes the roll-up from
// memory and the batch instead of re-reading every span of the trace: a
// trace written one span at a time would otherwise cost O(spans) reads per
// write. Only the writer goroutine touches the cache.
//
// A transaction stages its changes; they replace the cached entries when
// it commits and are dropped when it rolls back. An operation rolled back
// to its savepoint after staging poisons the transaction's changes: the
// whole cache is dropped at commit. Writes of another connection (another
// process sharing the file) show in PRAGMA data_version, which the writer
// reads at the start of every transaction and which ignores its own
// commits; a change empties the cache.

const (
	// maxCachedSpans bounds the cache (about 150 bytes a span); past it,
	// entries are dropped in map order until a quarter is free.
	maxCachedSpans = 100_000
	// maxCachedTrace is the largest trace cached; larger ones are re-read.
	maxCachedTrace = 5000
)

type traceKey struct {
	pid int64
	tid string
}

// traceEntry is a trace as the table holds it: its spans' roll-up columns
// and the root tags its trace row (and trace_tags) records.
type traceEntry struct {
	spans []light // nil: the trace has no spans
	tags  []string
}

type rollupCache struct {
	entries     map[traceKey]*traceEntry
	spans       int
	staged      map[traceKey]*traceEntry
	poisoned    bool
	dataVersion int64
	scratch     []translator.Span // rollUpLights' buffer

	// Group commit statistics, for benchmarks: transactions committed and
	// operations they held.
	commits, ops atomic.Int64
}

func newRollupCache() *rollupCache {
	return &rollupCache{entries: map[traceKey]*traceEntry{}, staged: map[traceKey]*traceEntry{}, dataVersion: -1}
}

// begin starts a transaction's staging; dataVersion is the connection's
// PRAGMA data_version.
func (c *rollupCache) begin(dataVersion int64) {
	if dataVersion != c.dataVersion {
		c.reset()
		c.dataVersion = dataVersion
	}
	clear(c.staged)
	c.poisoned = false
}

func (c *rollupCache) reset() {
	clear(c.entries)
	c.spans = 0
}

// get returns the trace as the transaction sees it; ok is false when it is
// not cached (or has no spans).
func (c *rollupCache) get(pid int64, tid string) (*traceEntry, bool) {
	k := traceKey{pid, tid}
	e, ok := c.staged[k]
	if !ok {
		e, ok = c.entries[k]
	}
	if !ok || e.spans == nil {
		return nil, false
	}
	return e, true
}

// stage records the trace as the transaction leaves it.
func (c *rollupCache) stage(pid int64, tid string, spans []light, tags []string) {
	c.staged[traceKey{pid, tid}] = &traceEntry{spans: spans, tags: tags}
}

// poison marks the transaction's staged changes as unreliable.
func (c *rollupCache) poison() { c.poisoned = true }

// commit publishes the staged changes of a committed transaction.
func (c *rollupCache) commit() {
	if c.poisoned {
		c.reset()
		clear(c.staged)
		return
	}
	for k, e := range c.staged {
		if old, ok := c.entries[k]; ok {
			c.spans -= len(old.spans)
			delete(c.entries, k)
		}
		if len(e.spans) == 0 || len(e.spans) > maxCachedTrace {
			continue
		}
		c.entries[k] = e
		c.spans += len(e.spans)
	}
	clear(c.staged)
	if c.spans > maxCachedSpans {
		for k, e := range c.entries {
			delete(c.entries, k)
			c.spans -= len(e.spans)
			if c.spans <= maxCachedSpans*3/4 {
				break
			}
		}
	}
}

// rollback drops the staged changes of a transaction rolled back.
func (c *rollupCache) rollback() {
	clear(c.staged)
	c.poisoned = false
}
