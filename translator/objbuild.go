package translator

import (
	"encoding/json"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// objectBuilder gathers the fields of one meta group (model parameters,
// agent, tool, user metadata) and encodes them as a JSON object with keys
// sorted, exactly as appendJSON encodes the equivalent map. Building the
// bytes directly, in buffers reused from span to span, avoids a map and a
// boxed value per field; the group lands in meta as json.RawMessage.
type objectBuilder struct {
	fields []objectField
	// values holds the encoded values back to back.
	values []byte
}

type objectField struct {
	key        string
	start, end int
}

func (o *objectBuilder) reset() {
	o.fields = o.fields[:0]
	o.values = o.values[:0]
}

func (o *objectBuilder) empty() bool { return len(o.fields) == 0 }

// has reports whether key is set.
func (o *objectBuilder) has(key string) bool {
	for i := range o.fields {
		if o.fields[i].key == key {
			return true
		}
	}
	return false
}

// begin starts the value of key, replacing an earlier one as a map
// assignment would; the caller appends the encoded value to o.values.
func (o *objectBuilder) begin(key string) {
	for i := range o.fields {
		if o.fields[i].key == key {
			o.fields = slices.Delete(o.fields, i, i+1)
			break
		}
	}
	o.fields = append(o.fields, objectField{key: key, start: len(o.values)})
}

func (o *objectBuilder) end() { o.fields[len(o.fields)-1].end = len(o.values) }

// putValue sets key to an attribute value.
func (o *objectBuilder) putValue(key string, v pcommon.Value) {
	o.begin(key)
	o.values = appendValue(o.values, v, 0)
	o.end()
}

// putRaw sets key to an encoded JSON value.
func (o *objectBuilder) putRaw(key, raw string) {
	o.begin(key)
	o.values = append(o.values, raw...)
	o.end()
}

// putString sets key to a string.
func (o *objectBuilder) putString(key, s string) {
	o.begin(key)
	o.values = appendJSONString(o.values, s)
	o.end()
}

// encode writes the object into the arena; scratch is returned for reuse.
func (o *objectBuilder) encode(ar *arena, scratch []byte) (json.RawMessage, []byte) {
	slices.SortFunc(o.fields, func(x, y objectField) int { return strings.Compare(x.key, y.key) })
	b := append(scratch[:0], '{')
	for i, f := range o.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.key)
		b = append(b, ':')
		b = append(b, o.values[f.start:f.end]...)
	}
	b = append(b, '}')
	return ar.json(b), b
}

// putObjectFields sets a field for each field of an object held as a JSON
// string or a kvlist, skipping the keys skip reports, and reports whether v
// was an object.
func (o *objectBuilder) putObjectFields(v pcommon.Value, skip func(string) bool) bool {
	if v.Type() == pcommon.ValueTypeMap {
		for k, fv := range v.Map().All() {
			if !skip(k) {
				o.putValue(k, fv)
			}
		}
		return true
	}
	t := valueString(v)
	i := skipSpace(t, 0)
	if i >= len(t) || t[i] != '{' {
		return false
	}
	// A value that only starts like an object adds nothing.
	if objectFields(t, i, func(string, string) bool { return true }) < 0 {
		return false
	}
	objectFields(t, i, func(k, val string) bool {
		if strings.IndexByte(k, '\\') >= 0 {
			var unq string
			if json.Unmarshal([]byte(`"`+k+`"`), &unq) == nil {
				k = unq
			}
		}
		if !skip(k) {
			o.putRaw(k, val)
		}
		return true
	})
	return true
}
