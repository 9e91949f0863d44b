package translator

// keySet is a set of known attribute keys. A span's view holds the set of
// known keys it has, so a mapping can ask whether any key of a convention
// is present in a few instructions and skip its dozens of lookups: most
// spans carry one convention, and many carry none.
type keySet [4]uint64

// maxKnownKeys is what a keySet holds; init checks that keys.go fits.
const maxKnownKeys = len(keySet{}) * 64

func keysOf(keys ...attrKey) keySet {
	var s keySet
	for _, k := range keys {
		s.add(k)
	}
	return s
}

func keysOfLists(lists ...[]attrKey) keySet {
	var s keySet
	for _, l := range lists {
		s.union(keysOf(l...))
	}
	return s
}

func (s *keySet) add(k attrKey) { s[k>>6] |= 1 << (k & 63) }

func (s *keySet) union(o keySet) {
	for i := range s {
		s[i] |= o[i]
	}
}

// intersects reports whether s and o share a key.
func (s *keySet) intersects(o *keySet) bool {
	return s[0]&o[0]|s[1]&o[1]|s[2]&o[2]|s[3]&o[3] != 0
}

func init() {
	if len(keyNames) > maxKnownKeys {
		panic("translator: more known attribute keys than a keySet holds; grow keySet")
	}
}
