package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"container/list"
	"context"
	"hash/maphash"
	"slices"
	"sync"
)

// lru is a bounded map that forgets its least recently used entries.
// It is safe for concurrent use.
type lru[V any] struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element
	order *list.List // front = most recent
}

type lruEntry[V any] struct {
	key   string
	value V
}

func newLRU[V any](size int) *lru[V] {
	return &lru[V]{max: size, items: make(map[string]*list.Element), order: list.New()}
}

func (c *lru[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*lruEntry[V]).value, true
	}
	var zero V
	return zero, false
}

func (c *lru[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(key, v)
}

// getOrPut returns the value for key, storing v first if there was none.
func (c *lru[V]) getOrPut(key string, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*lruEntry[V]).value
	}
	c.putLocked(key, v)
	return v
}

func (c *lru[V]) putLocked(key string, v V) {
	if el, ok := c.items[key]; ok {
		el.Value.(*lruEntry[V]).value = v
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key: key, value: v})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(*lruEntry[V]).key)
	}
}

func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *lru[V]) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.Remove(el)
		delete(c.items, key)
	}
}

// inflight records the spans whose create request is under way, so that a
// child in another batch can wait for its parent instead of racing it.
// Single creates register their id; a bulk request registers once for all
// its spans (a map entry, a channel and a closure per span cost more than
// encoding the span), and the rare wait scans the few groups in flight.
type inflight struct {
	seed   maphash.Seed
	shards [32]inflightShard

	groupsMu sync.Mutex
	groups   []*inflightGroup
}

type inflightGroup struct {
	has  func(id string) bool
	done chan struct{}
}

type inflightShard struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func newInflight() *inflight {
	f := &inflight{seed: maphash.MakeSeed()}
	for i := range f.shards {
		f.shards[i].m = make(map[string]chan struct{})
	}
	return f
}

func (f *inflight) shard(id string) *inflightShard {
	return &f.shards[maphash.String(f.seed, id)%uint64(len(f.shards))]
}

// begin marks id as in flight and returns the function that ends it. If
// id is already in flight, it returns nil and the channel to wait on.
func (f *inflight) begin(id string) (end func(), busy <-chan struct{}) {
	sh := f.shard(id)
	sh.mu.Lock()
	if ch, ok := sh.m[id]; ok {
		sh.mu.Unlock()
		return nil, ch
	}
	ch := make(chan struct{})
	sh.m[id] = ch
	sh.mu.Unlock()
	return func() {
		sh.mu.Lock()
		delete(sh.m, id)
		sh.mu.Unlock()
		close(ch)
	}, nil
}

// beginGroup marks every id has reports as in flight until end is called.
// has must stay valid, and its answers the same, until then.
func (f *inflight) beginGroup(has func(id string) bool) (end func()) {
	g := &inflightGroup{has: has, done: make(chan struct{})}
	f.groupsMu.Lock()
	f.groups = append(f.groups, g)
	f.groupsMu.Unlock()
	return func() {
		f.groupsMu.Lock()
		if i := slices.Index(f.groups, g); i >= 0 {
			f.groups[i] = f.groups[len(f.groups)-1]
			f.groups[len(f.groups)-1] = nil
			f.groups = f.groups[:len(f.groups)-1]
		}
		f.groupsMu.Unlock()
		close(g.done)
	}
}

// busy is the channel to wait on while id is in flight, or nil.
func (f *inflight) busy(id string) <-chan struct{} {
	sh := f.shard(id)
	sh.mu.Lock()
	ch, ok := sh.m[id]
	sh.mu.Unlock()
	if ok {
		return ch
	}
	f.groupsMu.Lock()
	defer f.groupsMu.Unlock()
	for _, g := range f.groups {
		if g.has(id) {
			return g.done
		}
	}
	return nil
}

// wait blocks while id is in flight; it reports whether it had to wait.
func (f *inflight) wait(ctx context.Context, id string) bool {
	ch := f.busy(id)
	if ch == nil {
		return false
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
	return true
}
