package sqlite

import (
	"time"

	"github.com/google/uuid"
)

// Ids are keys of every index, so they are stored small: a canonical
// (lower-case 8-4-4-4-12) UUID, which is what the translator and the
// receiver produce, as its 16 bytes (a BLOB); anything else as the TEXT it
// is. SQLite never compares a BLOB equal to a TEXT, so the two spellings
// cannot collide, and keyID/idString round-trip every string exactly.

// keyID returns the column value of id.
func keyID(id string) any {
	if len(id) != 36 {
		return id
	}
	var u [16]byte
	j := 0
	for i := 0; i < 36; i++ {
		c := id[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return id
			}
			continue
		}
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		default:
			return id
		}
		if j%2 == 0 {
			u[j/2] = v << 4
		} else {
			u[j/2] |= v
		}
		j++
	}
	return u[:]
}

// idString turns a column value written by keyID back into the id.
func idString(v any) string {
	switch x := v.(type) {
	case []byte:
		if len(x) != 16 {
			return string(x)
		}
		return uuid.UUID(x).String()
	case string:
		return x
	}
	return ""
}

// Times in columns are Unix nanoseconds, NULL for the zero time. They are
// only filtered and sorted on; the body keeps the exact value.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}
