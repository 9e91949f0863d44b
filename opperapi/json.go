package opperapi

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Object is a JSON object kept as raw bytes. Opper clients validate `meta`
// as an object, so decoding anything else (an array, a string, a number)
// fails; `null` decodes to an empty Object.
type Object json.RawMessage

// ErrNotObject is returned when a field that must be a JSON object is not.
var ErrNotObject = errors.New("must be a JSON object")

// MarshalJSON implements json.Marshaler; an empty Object is written as null.
func (o Object) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return []byte("null"), nil
	}
	return o, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Object) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*o = nil
		return nil
	}
	if len(data) == 0 || data[0] != '{' {
		return ErrNotObject
	}
	*o = append((*o)[:0], data...)
	return nil
}

// Map decodes the object into a map; an empty Object gives a nil map.
func (o Object) Map() (map[string]any, error) {
	if len(o) == 0 {
		return nil, nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(o))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// ObjectFromMap encodes m as an Object; a nil or empty map gives an empty Object.
func ObjectFromMap(m map[string]any) (Object, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return Object(b), nil
}

// Text is a string field that also accepts any other JSON value from lenient
// clients: a non-string value is kept as its compact JSON text, so a caller
// who sends an object where the API wants a string loses nothing. It is
// always written as a JSON string.
type Text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *Text) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*t = Text(s)
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return err
	}
	*t = Text(buf.String())
	return nil
}

// TextPtr returns a pointer to s as Text.
func TextPtr(s string) *Text {
	t := Text(s)
	return &t
}

// StringOf returns the text, or "" for nil.
func StringOf(t *Text) string {
	if t == nil {
		return ""
	}
	return string(*t)
}
