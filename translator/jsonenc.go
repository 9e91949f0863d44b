package translator

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/opperotel/bridge/opperapi"
)

// rawJSON is a JSON value sliced out of a larger document; it is written
// as it is.
type rawJSON string

// MarshalJSON implements json.Marshaler.
func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// AppendJSON implements JSONAppender.
func (r rawJSON) AppendJSON(b []byte) []byte { return append(b, r...) }

// JSONAppender is a Meta value the translator built that writes itself as
// compact, valid JSON. A store can append it to its own buffer instead of
// going through json.Marshal, which validates and compacts a Marshaler's
// output again (a fifth of the SQLite store's encoding time).
type JSONAppender interface {
	AppendJSON(b []byte) []byte
}

// appendJSON writes v as compact JSON with object keys sorted, so output is
// deterministic (golden files, idempotent retries). It handles the value
// kinds the translator builds without reflection, which is most of the cost
// of encoding a span. NaN and infinities, which JSON cannot carry, become
// null; invalid UTF-8 becomes U+FFFD.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return appendJSONFloat(b, x)
	case json.Number:
		return append(b, x...)
	case json.RawMessage:
		if len(x) == 0 {
			return append(b, "null"...)
		}
		return append(b, x...)
	case *otelMeta:
		return x.encode(b)
	case rawJSON:
		return append(b, x...)
	case opperapi.Object:
		if len(x) == 0 {
			return append(b, "null"...)
		}
		return append(b, x...)
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		var arr [24]string
		keys := arr[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x[k])
		}
		return append(b, '}')
	case map[string]int64:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, x[k], 10)
		}
		return append(b, '}')
	default:
		enc, err := json.Marshal(x)
		if err != nil {
			return append(b, "null"...)
		}
		return append(b, enc...)
	}
}

func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// safeASCII marks the ASCII bytes a JSON string carries unescaped. Unlike
// encoding/json this does not escape <, > and & (no HTML is involved) nor
// U+2028/U+2029 (valid in JSON): the output is valid JSON either way, and
// smaller.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// appendJSONString escapes s as a JSON string, replacing invalid UTF-8 with
// U+FFFD as encoding/json does. Content is most of what the exporter
// encodes, so runs of plain ASCII are checked eight bytes at a time.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONStringContent(b, s)
	return append(b, '"')
}

// appendJSONStringContent writes s escaped as the inside of a JSON string,
// without the quotes.
func appendJSONStringContent(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Runs that need no escaping (ASCII, none below 0x20, no quote, no
		// backslash) are skipped eight bytes at a time, tested together
		// without a branch per byte (SWAR). Written out here rather than in
		// a function: the compiler would not inline it.
		for ; i+8 <= len(s); i += 8 {
			w := s[i : i+8]
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			q := x ^ (lsb * '"')
			bs := x ^ (lsb * '\\')
			if (((x-lsb*0x20)&^x)|x|((q-lsb)&^q)|((bs-lsb)&^bs))&msb != 0 {
				break
			}
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// encodeObject encodes m as an opperapi.Object, empty for an empty map.
func encodeObject(m map[string]any) opperapi.Object {
	if len(m) == 0 {
		return nil
	}
	return opperapi.Object(appendJSON(make([]byte, 0, 256), m))
}
