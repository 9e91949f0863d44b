package translator

import "encoding/json"

// arenaBlock is the size of the blocks an arena hands pieces out of: big
// enough that a batch of spans needs few, small enough that a block kept
// alive by one piece costs little.
const arenaBlock = 32 << 10

// arena hands out the small pieces one ToOpper call builds for its spans
// (pre-encoded JSON groups, usages, costs) from a few large blocks. The
// spans of a batch are built together and dropped together, so one
// allocation per block replaces one per piece: fewer allocations is most of
// what the garbage collector costs the exporter.
//
// Pieces are never written again once handed out, until reset: an arena
// that belongs to a reused Batch hands its blocks out again for the next
// batch, when the caller is done with the spans of the last.
type arena struct {
	bytes  []byte
	usages []Usage
	floats []float64
	// metas is the free part of a block of meta fields; the span being
	// mapped writes its fields at its start (metaWindow, keepMeta).
	metas []MetaField

	byteBlocks  blockList[byte]
	usageBlocks blockList[Usage]
	floatBlocks blockList[float64]
	metaBlocks  blockList[MetaField]
}

// reset makes every block free for the next batch. Meta blocks are wiped,
// so that they keep nothing of the old spans' values alive.
func (a *arena) reset() {
	a.byteBlocks.reset(false)
	a.usageBlocks.reset(false)
	a.floatBlocks.reset(false)
	a.metaBlocks.reset(true)
	a.bytes, a.usages, a.floats, a.metas = nil, nil, nil, nil
}

// blockList remembers the blocks of one kind an arena allocated, to hand
// them out again after a reset.
type blockList[T any] struct {
	all  [][]T
	used int
}

// maxKeptBlocks bounds what a reused arena keeps between batches (a
// megabyte or so of each kind); an unusually large batch allocates the
// rest anew and lets it go.
const maxKeptBlocks = 32

func (l *blockList[T]) next(size int) []T {
	if l.used < len(l.all) {
		b := l.all[l.used][:0]
		l.used++
		return b
	}
	b := make([]T, 0, size)
	if len(l.all) < maxKeptBlocks {
		l.all = append(l.all, b)
		l.used++
	}
	return b
}

func (l *blockList[T]) reset(wipe bool) {
	if wipe {
		for _, b := range l.all[:l.used] {
			clear(b[:cap(b)])
		}
	}
	l.used = 0
}

// metaBlock is how many meta fields a block holds, minMetaWindow the room
// a span's window starts with.
const (
	metaBlock     = 2048
	minMetaWindow = 24
)

// metaWindow returns an empty Meta whose capacity is the free part of the
// current block, for the span about to be mapped.
func (a *arena) metaWindow() Meta {
	if cap(a.metas) < minMetaWindow {
		a.metas = a.metaBlocks.next(metaBlock)
	}
	return Meta(a.metas[:0])
}

// keepMeta settles a span's Meta once it is complete: the fields it wrote
// in its window leave the free part, and its capacity is clipped so that
// later Sets copy instead of writing into the next span's fields. A Meta
// that outgrew its window already lives elsewhere and takes nothing.
func (a *arena) keepMeta(m Meta) Meta {
	if len(m) == 0 {
		return nil
	}
	if cap(a.metas) > 0 && &m[:1][0] == &a.metas[:1][0] {
		a.metas = a.metas[len(m):len(m)]
	}
	return m[:len(m):len(m)]
}

// json copies b, an encoded JSON value, into the arena.
func (a *arena) json(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if len(b) > arenaBlock/4 {
		// Large values get their own allocation rather than waste a block.
		return json.RawMessage(append([]byte(nil), b...))
	}
	if cap(a.bytes)-len(a.bytes) < len(b) {
		a.bytes = a.byteBlocks.next(arenaBlock)
	}
	start := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	// The full slice expression keeps an append by the caller from
	// writing into the next piece.
	return json.RawMessage(a.bytes[start:len(a.bytes):len(a.bytes)])
}

// usage returns a pointer to a copy of u.
func (a *arena) usage(u Usage) *Usage {
	if len(a.usages) == cap(a.usages) {
		a.usages = a.usageBlocks.next(256)
	}
	a.usages = append(a.usages, u)
	return &a.usages[len(a.usages)-1]
}

// float returns a pointer to a copy of f.
func (a *arena) float(f float64) *float64 {
	if len(a.floats) == cap(a.floats) {
		a.floats = a.floatBlocks.next(256)
	}
	a.floats = append(a.floats, f)
	return &a.floats[len(a.floats)-1]
}
