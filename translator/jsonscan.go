package translator

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
	i = skipSpace(s, i)
	if i >= len(s) || s[i] != '{' {
		return -1
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1
	}
	for i < len(s) {
		if s[i] != '"' {
			return -1
		}
		end := skipString(s, i)
		if end < 0 {
			return -1
		}
		key := s[i+1 : end-1]
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return -1
		}
		vstart := skipSpace(s, i+1)
		vend := skipValue(s, vstart)
		if vend < 0 {
			return -1
		}
		if !f(key, s[vstart:vend]) {
			return vend
		}
		i = skipSpace(s, vend)
		if i < len(s) && s[i] == ',' {
			i = skipSpace(s, i+1)
			continue
		}
		if i < len(s) && s[i] == '}' {
			return i + 1
		}
		return -1
	}
	return -1
}
