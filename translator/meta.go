package translator

import (
	"iter"
	"slices"
	"strings"
)

// Meta is a span's free-form metadata: the fields of a JSON object, each
// key once. It is a slice, not a map, because a span has a handful of
// fields: a slice holds them in one allocation (the translator hands them
// out of a batch-wide slab, so usually none per span), finds one by a short
// scan, and encodes them sorted without hashing. Set keeps the fields sorted
// by key; encoders sort a copy when a literal is not.
type Meta []MetaField

// MetaField is one field of Meta. Value is JSON-ready: nil, bool, string,
// int64, float64, json.Number, json.RawMessage, []any, map[string]any, or a
// value with a MarshalJSON method.
type MetaField struct {
	Key   string
	Value any
}

// MetaOf returns the fields of m as Meta, nil for an empty map.
func MetaOf(m map[string]any) Meta {
	if len(m) == 0 {
		return nil
	}
	out := make(Meta, 0, len(m))
	for k, v := range m {
		out = append(out, MetaField{k, v})
	}
	slices.SortFunc(out, compareFields)
	return out
}

func compareFields(x, y MetaField) int { return strings.Compare(x.Key, y.Key) }

// Get returns the value of key.
func (m Meta) Get(key string) (any, bool) {
	for i := range m {
		if m[i].Key == key {
			return m[i].Value, true
		}
	}
	return nil, false
}

// Value returns the value of key, nil when absent.
func (m Meta) Value(key string) any {
	v, _ := m.Get(key)
	return v
}

// Has reports whether key is set.
func (m Meta) Has(key string) bool {
	_, ok := m.Get(key)
	return ok
}

// Set sets key to v, replacing an earlier value.
func (m *Meta) Set(key string, v any) {
	for i := range *m {
		if (*m)[i].Key == key {
			(*m)[i].Value = v
			return
		}
	}
	// Where it keeps a sorted Meta sorted; anywhere will do in one that
	// is not (a literal).
	// The insert never writes into spare capacity: a copied Span shares
	// the array, and its Meta must not change under it.
	fields := *m
	i := insertPos(fields, key)
	*m = slices.Insert(fields[:len(fields):len(fields)], i, MetaField{key, v})
}

// insertPos is where key goes to keep sorted fields sorted.
func insertPos(fields Meta, key string) int {
	i, _ := slices.BinarySearchFunc(fields, key, func(f MetaField, k string) int { return strings.Compare(f.Key, k) })
	return i
}

// merge sets every field of fields in m, in order, so a later repeat of a
// key wins. Large merges go through a map: a client may send a meta of
// many thousand keys, which field-by-field Sets would take quadratic time
// over.
func (m *Meta) merge(fields Meta) {
	if len(fields) == 0 {
		return
	}
	if (len(*m)+1)*len(fields) <= 256 {
		for _, f := range fields {
			m.Set(f.Key, f.Value)
		}
		return
	}
	pos := make(map[string]int, len(*m)+len(fields))
	out := slices.Grow((*m)[:len(*m):len(*m)], len(fields))
	for i, f := range out {
		pos[f.Key] = i
	}
	for _, f := range fields {
		if i, ok := pos[f.Key]; ok {
			out[i].Value = f.Value
			continue
		}
		pos[f.Key] = len(out)
		out = append(out, f)
	}
	slices.SortFunc(out, compareFields)
	*m = out
}

// Delete removes key.
func (m *Meta) Delete(key string) {
	for i := range *m {
		if (*m)[i].Key == key {
			*m = slices.Delete(*m, i, i+1)
			return
		}
	}
}

// All yields the fields in order.
func (m Meta) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for _, f := range m {
			if !yield(f.Key, f.Value) {
				return
			}
		}
	}
}

// Map returns the fields as a map.
func (m Meta) Map() map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for _, f := range m {
		out[f.Key] = f.Value
	}
	return out
}

// sorted returns m sorted by key: m itself when it is, else a sorted copy,
// so that encoding never writes to a span.
func (m Meta) sorted() Meta {
	// A plain loop: IsSortedFunc's call per pair showed in the exporter's
	// profile, and the translator's Metas are always sorted.
	inOrder := true
	for i := 1; i < len(m) && inOrder; i++ {
		inOrder = m[i-1].Key <= m[i].Key
	}
	if inOrder {
		return m
	}
	c := slices.Clone(m)
	slices.SortFunc(c, compareFields)
	return c
}

// MarshalJSON writes m as a JSON object with keys sorted, as appendJSON
// writes a map.
func (m Meta) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	return m.appendJSON(nil), nil
}

func (m Meta) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range m.sorted() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Key)
		b = append(b, ':')
		b = appendJSON(b, f.Value)
	}
	return append(b, '}')
}
