package translator

import (
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// flatBuilder writes the JSON array rebuildFlattened followed by appendJSON
// would give, without the intermediate maps: the flattened keys are sorted
// as paths and the array is written in one walk over them. It serves the
// common shape (one attribute per leaf, arrays and objects never mixed at
// one place); anything else it reports unhandled, and the caller takes the
// tree (rebuildFlattened), whose outcome on such input is defined by the
// order of the attributes.
type flatBuilder struct {
	entries []flatEntry
	segs    []string
	out     []byte
}

type flatEntry struct {
	segs []string
	val  pcommon.Value
}

// reset drops the references the last span left.
func (f *flatBuilder) reset() {
	clear(f.entries)
	clear(f.segs)
	f.entries, f.segs, f.out = f.entries[:0], f.segs[:0], f.out[:0]
	if cap(f.out) > 1<<20 {
		f.out = nil
	}
}

// flattenedJSON is the JSON text of the array rebuilt from the flattened
// attributes under p, as appendJSON(rebuildFlattened(a, p)) writes it.
func flattenedJSON(a *attrView, p attrPrefix, f *flatBuilder) (text string, dropped int) {
	defer f.reset()
	out, dropped, ok := f.build(a, p)
	if ok {
		return string(out), dropped
	}
	msgs, dropped := rebuildFlattened(a, p)
	if len(msgs) == 0 {
		return "", dropped
	}
	return string(appendJSON(f.out[:0], msgs)), dropped
}

// build returns the array (nil when there is no element) and whether it
// could write it directly.
func (f *flatBuilder) build(a *attrView, p attrPrefix) (out []byte, dropped int, ok bool) {
	bit := p.bit()
	if a.prefixes&bit == 0 {
		return nil, 0, true
	}
	n := len(prefixNames[p])
	for i := range a.attrs {
		at := &a.attrs[i]
		if at.prefixes&bit == 0 {
			continue
		}
		rest := at.key[n:]
		first := rest
		if dot := strings.IndexByte(rest, '.'); dot >= 0 {
			first = rest[:dot]
		}
		if !isIndex(first) {
			continue
		}
		at.used = true
		// A map leaf would be unwrapped by the tree's finishing pass too.
		if at.val.Type() == pcommon.ValueTypeMap {
			return nil, 0, false
		}
		start := len(f.segs)
		inRange := true
		for seg := range strings.SplitSeq(rest, ".") {
			if isIndex(seg) {
				if len(seg) > 1 && seg[0] == '0' {
					return nil, 0, false // "01" and "1" are one index to the tree
				}
				if len(seg) > 5 {
					inRange = false
				} else if k, _ := strconv.Atoi(seg); k > maxRebuiltIndex {
					inRange = false
				}
			}
			f.segs = append(f.segs, seg)
		}
		if !inRange {
			f.segs = f.segs[:start]
			dropped++
			continue
		}
		f.entries = append(f.entries, flatEntry{segs: f.segs[start:len(f.segs):len(f.segs)], val: at.val})
	}
	if len(f.entries) == 0 {
		return nil, dropped, true
	}
	slices.SortFunc(f.entries, func(x, y flatEntry) int { return comparePaths(x.segs, y.segs) })
	out, ok = f.write(f.out[:0], f.entries, 0)
	f.out = out
	return out, dropped, ok
}

// comparePaths orders paths segment by segment: indices numerically
// (they have no leading zeros), before names, which go in byte order as
// appendJSON sorts keys.
func comparePaths(x, y []string) int {
	for i := 0; i < len(x) && i < len(y); i++ {
		if c := compareSegments(x[i], y[i]); c != 0 {
			return c
		}
	}
	return len(x) - len(y)
}

func compareSegments(x, y string) int {
	xi, yi := isIndex(x), isIndex(y)
	switch {
	case xi && yi:
		if len(x) != len(y) {
			return len(x) - len(y)
		}
		return strings.Compare(x, y)
	case xi:
		return -1
	case yi:
		return 1
	}
	return strings.Compare(x, y)
}

// write writes the node at depth shared by entries (sorted, all with that
// path prefix). It reports false where the tree would have to decide.
func (f *flatBuilder) write(b []byte, entries []flatEntry, depth int) ([]byte, bool) {
	if len(entries[0].segs) == depth {
		if len(entries) > 1 {
			return b, false // a value and deeper keys at one place
		}
		return appendValue(b, entries[0].val, 0), true
	}
	array := isIndex(entries[0].segs[depth])
	if !array {
		// An object holding one wrapper whose value is an object is that
		// object (finalizeFlattened's unwrapping).
		k := entries[0].segs[depth]
		last := entries[len(entries)-1].segs
		if len(last) > depth && last[depth] == k && slices.Contains(wrapperKeys, k) &&
			len(entries[0].segs) > depth+1 && !isIndex(entries[0].segs[depth+1]) {
			return f.write(b, entries, depth+1)
		}
	}
	open, closing := byte('{'), byte('}')
	if array {
		open, closing = '[', ']'
	}
	b = append(b, open)
	for i := 0; i < len(entries); {
		seg := entries[i].segs[depth]
		if len(entries[i].segs) == depth || isIndex(seg) != array {
			return b, false // arrays and objects mixed at one place
		}
		j := i + 1
		for j < len(entries) && len(entries[j].segs) > depth && entries[j].segs[depth] == seg {
			j++
		}
		if i > 0 {
			b = append(b, ',')
		}
		if !array {
			b = appendJSONString(b, seg)
			b = append(b, ':')
		}
		var ok bool
		if b, ok = f.write(b, entries[i:j], depth+1); !ok {
			return b, false
		}
		i = j
	}
	return append(b, closing), true
}
