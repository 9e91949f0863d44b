package opperapi // import "github.com/opperotel/bridge/opperapi"

import (
	"bytes"
	"encoding/json"
)

// DecodeBatchResponse decodes the answer to `POST /v2/spans/batch`.
//
// The exporter reads one such answer per thousand spans, and
// encoding/json's reflection over the thousand results was a twentieth of
// its CPU. The answers this project's receiver writes (index, status, id)
// are read by a direct scan; anything else (an item error, other keys,
// other spellings) goes to encoding/json, so the result is always the one
// json.Unmarshal gives.
func DecodeBatchResponse(body []byte) (BatchResponse, error) {
	if r, ok := scanBatchResponse(body); ok {
		return r, nil
	}
	var r BatchResponse
	err := json.Unmarshal(body, &r)
	return r, err
}

// batchScanner reads the plain shape of a batch answer. Each method
// reports false on anything outside that shape, never guessing.
type batchScanner struct {
	b []byte
	i int
}

func scanBatchResponse(body []byte) (BatchResponse, bool) {
	s := batchScanner{b: body}
	var r BatchResponse
	if !s.byte('{') || !s.literal(`"results"`) || !s.byte(':') || !s.byte('[') {
		return r, false
	}
	// One result per item of the request is the norm: reserve by the
	// answer's size rather than growing through the doublings.
	r.Results = make([]BatchItemResult, 0, len(body)/32+1)
	if !s.byte(']') {
		for {
			item, ok := s.item()
			if !ok {
				return r, false
			}
			r.Results = append(r.Results, item)
			if s.byte(']') {
				break
			}
			if !s.byte(',') {
				return r, false
			}
		}
	}
	if !s.byte('}') {
		return r, false
	}
	s.space()
	return r, s.i == len(s.b)
}

func (s *batchScanner) item() (BatchItemResult, bool) {
	var it BatchItemResult
	if !s.byte('{') {
		return it, false
	}
	if s.byte('}') {
		return it, true
	}
	for {
		var ok bool
		switch {
		case s.literal(`"index"`):
			ok = s.byte(':') && s.int(&it.Index)
		case s.literal(`"status"`):
			ok = s.byte(':') && s.int(&it.Status)
		case s.literal(`"id"`):
			ok = s.byte(':') && s.str(&it.ID)
		}
		if !ok {
			return it, false
		}
		if s.byte('}') {
			return it, true
		}
		if !s.byte(',') {
			return it, false
		}
	}
}

func (s *batchScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte consumes c after any white space.
func (s *batchScanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// literal consumes lit after any white space.
func (s *batchScanner) literal(lit string) bool {
	s.space()
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// int reads a JSON integer that fits an int; fractions, exponents and
// leading zeros are left to encoding/json.
func (s *batchScanner) int(v *int) bool {
	s.space()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - digits
	if n == 0 || n > 18 || (n > 1 && s.b[digits] == '0') {
		return false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return false
	}
	// At most 18 digits: no overflow.
	x := 0
	for _, c := range s.b[digits:s.i] {
		x = x*10 + int(c-'0')
	}
	if digits > start {
		x = -x
	}
	*v = x
	return true
}

// str reads a string without escapes, control characters or bytes
// outside ASCII (whose invalid sequences encoding/json would replace).
func (s *batchScanner) str(v *string) bool {
	if !s.byte('"') {
		return false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			*v = string(s.b[start:s.i])
			s.i++
			return true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return false
		}
	}
	return false
}
