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
	return flattenedTreeJSON(a, p, f.out[:0])
}

// flattenedTreeJSON is the way through the tree: rebuildFlattened, then
// appendJSON, using b.
func flattenedTreeJSON(a *attrView, p attrPrefix, b []byte) (text string, dropped int) {
	msgs, dropped := rebuildFlattened(a, p)
	if len(msgs) == 0 {
		return "", dropped
	}
	return string(appendJSON(b, msgs)), dropped
}

// build returns the array (nil when there is no element) and whether it
// could write it directly.
func (f *flatBuilder) build(a *attrView, p attrPrefix) (out []byte, dropped int, ok bool) {
	if dropped, ok = f.collect(a, p); !ok || len(f.entries) == 0 {
		return nil, dropped, ok
	}
	out, ok = f.write(f.out[:0], f.entries, 0)
	f.out = out
	return out, dropped, ok
}

// flattenedFieldJSON is the JSON array of one field of every element
// rebuilt from the flattened attributes under p, as flattenedField writes
// it through the tree; "" when no element has the field.
func flattenedFieldJSON(a *attrView, p attrPrefix, field string, f *flatBuilder) string {
	defer f.reset()
	if out, ok := f.fieldOfElements(a, p, field); ok {
		return string(out)
	}
	return flattenedFieldTreeJSON(a, p, field, f.out[:0])
}

// flattenedFieldTreeJSON is the way through the tree: every rebuilt
// element that is an object and has field gives its value, using b.
func flattenedFieldTreeJSON(a *attrView, p attrPrefix, field string, b []byte) string {
	items, _ := rebuildFlattened(a, p)
	var out []any
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			if v, ok := m[field]; ok {
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return string(appendJSON(b, out))
}

func (f *flatBuilder) fieldOfElements(a *attrView, p attrPrefix, field string) (out []byte, ok bool) {
	if _, ok = f.collect(a, p); !ok || len(f.entries) == 0 {
		return nil, ok
	}
	b := append(f.out[:0], '[')
	found := 0
	for i := 0; i < len(f.entries); {
		group := leadingGroup(f.entries[i:], 0)
		i += len(group)
		if len(group[0].segs) == 1 {
			if len(group) > 1 {
				return nil, false // a value and deeper keys at one place
			}
			continue // a bare value has no fields
		}
		depth := unwrapped(group, 1)
		array := isIndex(group[0].segs[depth])
		for _, e := range group {
			if len(e.segs) == depth || isIndex(e.segs[depth]) != array {
				return nil, false
			}
		}
		if array {
			continue
		}
		for k := 0; k < len(group); {
			sub := leadingGroup(group[k:], depth)
			k += len(sub)
			if sub[0].segs[depth] != field {
				continue
			}
			if found > 0 {
				b = append(b, ',')
			}
			found++
			if b, ok = f.write(b, sub, depth+1); !ok {
				return nil, false
			}
		}
	}
	f.out = b
	if found == 0 {
		return nil, true
	}
	return append(b, ']'), true
}

// leadingGroup is the leading entries that share entries[0]'s segment at depth.
func leadingGroup(entries []flatEntry, depth int) []flatEntry {
	seg := entries[0].segs[depth]
	j := 1
	for j < len(entries) && len(entries[j].segs) > depth && entries[j].segs[depth] == seg {
		j++
	}
	return entries[:j]
}

// unwrapped is the depth at which the object node at depth is written: an
// object holding only a wrapper whose value is an object is that object
// (finalizeFlattened's unwrapping), as many times over as it applies.
func unwrapped(entries []flatEntry, depth int) int {
	for {
		first, last := entries[0].segs, entries[len(entries)-1].segs
		if len(first) <= depth+1 || isIndex(first[depth]) || len(last) <= depth || last[depth] != first[depth] ||
			!slices.Contains(wrapperKeys, first[depth]) || isIndex(first[depth+1]) {
			return depth
		}
		depth++
	}
}

// collect gathers and sorts the flattened entries under p. It reports
// false for what only the tree can decide.
func (f *flatBuilder) collect(a *attrView, p attrPrefix) (dropped int, ok bool) {
	ok = true
	eachFlattened(a, p, func(at *attr, rest string) bool {
		// A map leaf would be unwrapped by the tree's finishing pass too.
		if at.val.Type() == pcommon.ValueTypeMap {
			ok = false
			return false
		}
		start := len(f.segs)
		inRange := true
		for seg := range strings.SplitSeq(rest, ".") {
			if isIndex(seg) {
				if len(seg) > 1 && seg[0] == '0' {
					ok = false // "01" and "1" are one index to the tree
					return false
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
			return true
		}
		f.entries = append(f.entries, flatEntry{segs: f.segs[start:len(f.segs):len(f.segs)], val: at.val})
		return true
	})
	if !ok {
		return 0, false
	}
	slices.SortFunc(f.entries, func(x, y flatEntry) int { return comparePaths(x.segs, y.segs) })
	return dropped, true
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
	depth = unwrapped(entries, depth)
	array := isIndex(entries[0].segs[depth])
	open, closing := byte('{'), byte('}')
	if array {
		open, closing = '[', ']'
	}
	b = append(b, open)
	for i := 0; i < len(entries); {
		if len(entries[i].segs) == depth || isIndex(entries[i].segs[depth]) != array {
			return b, false // arrays and objects mixed at one place
		}
		seg := entries[i].segs[depth]
		j := i + len(leadingGroup(entries[i:], depth))
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
