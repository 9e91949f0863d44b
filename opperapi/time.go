package opperapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Time is a wire timestamp. It is always written as RFC 3339 in UTC with a
// `Z` suffix, because the v2 TypeScript SDK rejects naive timestamps, and it
// is read leniently, because real clients send zone offsets, any number of
// fractional digits, naive times (Python's isoformat of a naive datetime) and
// occasionally a space instead of the `T`.
type Time struct {
	time.Time
}

// NewTime returns t as a wire timestamp in UTC.
func NewTime(t time.Time) Time { return Time{t.UTC()} }

// TimePtr returns a pointer to t as a wire timestamp, or nil when t is zero,
// so that unset times are omitted instead of sent as year 1.
func TimePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	v := NewTime(t)
	return &v
}

// Std returns the timestamp as a time.Time, the zero time for a nil pointer.
func (t *Time) Std() time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// Format renders the timestamp the way it goes on the wire.
func (t Time) Format() string {
	return t.UTC().Format(time.RFC3339Nano)
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.Year() < 0 || t.Year() > 9999 {
		return nil, fmt.Errorf("opperapi: time %v is outside the RFC 3339 range", t.Time)
	}
	b := make([]byte, 0, len(time.RFC3339Nano)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler. A JSON number is taken as Unix
// seconds (Python callers pass time.time()).
func (t *Time) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	if len(data) > 0 && data[0] != '"' {
		f, err := strconv.ParseFloat(string(data), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 253402300799 {
			return fmt.Errorf("invalid timestamp %s: want an RFC 3339 string", truncate(string(data), 64))
		}
		sec, frac := math.Modf(f)
		t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("invalid timestamp: %w", err)
	}
	parsed, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

// layouts are tried in order by ParseTime. Go's RFC 3339 parsing already
// accepts any number of fractional digits.
var layouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700", // +0000 without a colon
	"2006-01-02T15:04Z07:00",             // no seconds, as zod accepts
	"2006-01-02T15:04Z0700",
}

// naiveLayouts carry no zone; their values are taken as UTC.
var naiveLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ParseTime reads a timestamp the way Opper clients write them: RFC 3339 with
// a zone offset or `Z`, with or without seconds and fractions, a space or a
// lower-case `t` as separator, or naive (taken as UTC). The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	v := strings.TrimSpace(s)
	if len(v) > 10 && (v[10] == ' ' || v[10] == 't') {
		v = v[:10] + "T" + v[11:]
	}
	if strings.HasSuffix(v, "z") {
		v = v[:len(v)-1] + "Z"
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	for _, layout := range naiveLayouts {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: want RFC 3339, e.g. 2024-03-20T10:00:00Z", truncate(s, 64))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
