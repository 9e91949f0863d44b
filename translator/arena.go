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
// Pieces are never written again once handed out; a block is dropped from
// the arena, not reused, when it is full.
type arena struct {
	bytes  []byte
	usages []Usage
	floats []float64
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
		a.bytes = make([]byte, 0, arenaBlock)
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
		a.usages = make([]Usage, 0, 256)
	}
	a.usages = append(a.usages, u)
	return &a.usages[len(a.usages)-1]
}

// float returns a pointer to a copy of f.
func (a *arena) float(f float64) *float64 {
	if len(a.floats) == cap(a.floats) {
		a.floats = make([]float64, 0, 256)
	}
	a.floats = append(a.floats, f)
	return &a.floats[len(a.floats)-1]
}
