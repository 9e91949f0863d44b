package translator

import (
	"unicode/utf16"
	"unicode/utf8"
)

// A minimal JSON scanner for the one place the translator must look inside
// a large JSON document: finding the system message at the start of a
// conversation. Decoding the conversation with encoding/json costs more
// than translating the rest of the span; this reads only what it needs and
// skips the rest without allocating.

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at i
// (s[i] == '"'), or -1 when it is not terminated.
func skipString(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at i, or
// -1 on malformed input. It checks structure only as far as needed to find
// the end: strings and nesting.
func skipValue(s string, i int) int {
	i = skipSpace(s, i)
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for ; i < len(s); i++ {
			switch s[i] {
			case '"':
				if i = skipString(s, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	// A literal: number, true, false, null.
	j := i
	for j < len(s) && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\n' && s[j] != '\r' && s[j] != '\t' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// objectFields calls f with each key (still quoted, escapes undecoded) and
// raw value of the object starting at i, until f returns false; it returns
// the index past the object, or -1 on malformed input.
func objectFields(s string, i int, f func(key, value string) bool) int {
	return members(s, i, '{', '}', func(i int) (int, bool) {
		if s[i] != '"' {
			return -1, false
		}
		end := skipString(s, i)
		if end < 0 {
			return -1, false
		}
		key := s[i+1 : end-1]
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return -1, false
		}
		vstart := skipSpace(s, i+1)
		vend := skipValue(s, vstart)
		if vend < 0 {
			return -1, false
		}
		return vend, f(key, s[vstart:vend])
	})
}

// arrayElements calls f with each raw element of the array starting at i,
// until f returns false; it returns the index past the array, or -1 on
// malformed input.
func arrayElements(s string, i int, f func(value string) bool) int {
	return members(s, i, '[', ']', func(i int) (int, bool) {
		end := skipValue(s, i)
		if end < 0 {
			return -1, false
		}
		return end, f(s[i:end])
	})
}

// members walks the object or array that open starts at i: member reads
// the member at j and returns the index past it (-1: malformed) and whether
// to go on. It returns the index past the container, or past the member
// where member stopped, or -1 on malformed input.
func members(s string, i int, open, close byte, member func(j int) (end int, more bool)) int {
	i = skipSpace(s, i)
	if i >= len(s) || s[i] != open {
		return -1
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == close {
		return i + 1
	}
	for i < len(s) {
		end, more := member(i)
		if end < 0 {
			return -1
		}
		if !more {
			return end
		}
		i = skipSpace(s, end)
		if i < len(s) && s[i] == ',' {
			i = skipSpace(s, i+1)
			continue
		}
		if i < len(s) && s[i] == close {
			return i + 1
		}
		return -1
	}
	return -1
}

// unquoteJSON decodes v, a JSON string with its quotes, as encoding/json
// decodes it into a string: escapes resolved, a lone surrogate and invalid
// UTF-8 become U+FFFD. ok is false for anything that is not one valid JSON
// string. Content is decoded here for every span under full retention, where
// encoding/json's reflection and separate validity pass cost more than the
// rest of the span.
func unquoteJSON(v string) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	// The common case: nothing to resolve.
	if plainText(inner) {
		return inner, true
	}
	b := make([]byte, 0, len(inner))
	for i := 0; i < len(inner); {
		c := inner[i]
		switch {
		case c == '"' || c < 0x20:
			return "", false
		case c == '\\':
			if i+1 >= len(inner) {
				return "", false
			}
			switch e := inner[i+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				b = append(b, unescaped[e])
				i += 2
			case 'u':
				r, ok := hex4(inner, i+2)
				if !ok {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by an escaped low one is
					// one rune; anything else stands alone and is invalid.
					r2, ok2 := rune(-1), false
					if i+6 <= len(inner) && inner[i] == '\\' && inner[i+1] == 'u' {
						r2, ok2 = hex4(inner, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(inner[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, inner[i:i+size]...)
			}
			i += size
		}
	}
	return string(b), true
}

// unquoteKey decodes a key as objectFields gives it (without its quotes):
// itself when it has nothing to decode, which saves rebuilding it quoted.
func unquoteKey(k string) (string, bool) {
	if plainText(k) {
		return k, true
	}
	return unquoteJSON(`"` + k + `"`)
}

// plainText reports whether the inside of a JSON string reads as itself:
// printable ASCII without quote or backslash.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unescaped maps the letter of a one-letter JSON escape to its byte.
var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads the four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
