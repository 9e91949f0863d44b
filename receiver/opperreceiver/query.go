package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// maxLimit is the largest page of a list; the SDKs send 100 by default.
const maxLimit = 100

// parsePage reads limit (1..100, default 100) and offset (>= 0, default 0).
// url.Values has already turned `+` and `%20` into spaces.
func parsePage(v url.Values) (offset, limit int, e *apiError) {
	limit, e = intParam(v, "limit", maxLimit, 1, maxLimit)
	if e != nil {
		return 0, 0, e
	}
	offset, e = intParam(v, "offset", 0, 0, math.MaxInt32)
	return offset, limit, e
}

func intParam(v url.Values, name string, def, lo, hi int) (int, *apiError) {
	s := strings.TrimSpace(v.Get(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errInvalid("int_parsing", "Input should be a valid integer", "query", name)
	}
	if n < lo || n > hi {
		return 0, errInvalid("out_of_range", "Input should be between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi), "query", name)
	}
	return n, nil
}

func floatParam(v url.Values, name string) (*float64, *apiError) {
	s := strings.TrimSpace(v.Get(name))
	if s == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return nil, errInvalid("float_parsing", "Input should be a non-negative number", "query", name)
	}
	return &f, nil
}

func timeParam(v url.Values, name string) (time.Time, *apiError) {
	s := strings.TrimSpace(v.Get(name))
	if s == "" {
		return time.Time{}, nil
	}
	// A `+` in an offset arrives as a space; put it back.
	if i := strings.LastIndexByte(s, ' '); i > 10 {
		s = s[:i] + "+" + s[i+1:]
	}
	t, err := opperapi.ParseTime(s)
	if err != nil {
		return time.Time{}, errInvalid("datetime_parsing", "Input should be an RFC 3339 timestamp, e.g. 2024-03-20T10:00:00Z", "query", name)
	}
	return t, nil
}

// parseTraceQuery reads the trace list filters:
//
//	name                         case-insensitive substring of the trace name
//	status                       ok | error | running
//	min_duration_ms, max_duration_ms
//	min_cost, max_cost           USD
//	tag                          a tag of the root span
//	model, user, session, service  a model, user id, session id or OTel service.name of any span (exact)
//	from, to                     RFC 3339; from <= trace start < to
//	limit (1..100), offset
func parseTraceQuery(v url.Values) (store.TraceQuery, *apiError) {
	var q store.TraceQuery
	var e *apiError
	if q.Offset, q.Limit, e = parsePage(v); e != nil {
		return q, e
	}
	q.Name = strings.TrimSpace(v.Get("name"))
	q.Tag = strings.TrimSpace(v.Get("tag"))
	q.Model = strings.TrimSpace(v.Get("model"))
	q.User = strings.TrimSpace(v.Get("user"))
	q.Session = strings.TrimSpace(v.Get("session"))
	q.Service = strings.TrimSpace(v.Get("service"))
	switch q.Status = strings.ToLower(strings.TrimSpace(v.Get("status"))); q.Status {
	case "", translator.StatusOK, translator.StatusError, translator.StatusRunning:
	default:
		return q, errInvalid("enum", "Input should be 'ok', 'error' or 'running'", "query", "status")
	}
	minMS, e := intParam(v, "min_duration_ms", 0, 0, math.MaxInt32)
	if e != nil {
		return q, e
	}
	maxMS, e := intParam(v, "max_duration_ms", 0, 0, math.MaxInt32)
	if e != nil {
		return q, e
	}
	q.MinDuration, q.MaxDuration = time.Duration(minMS)*time.Millisecond, time.Duration(maxMS)*time.Millisecond
	if q.MinCost, e = floatParam(v, "min_cost"); e != nil {
		return q, e
	}
	if q.MaxCost, e = floatParam(v, "max_cost"); e != nil {
		return q, e
	}
	if q.From, e = timeParam(v, "from"); e != nil {
		return q, e
	}
	if q.To, e = timeParam(v, "to"); e != nil {
		return q, e
	}
	return q, nil
}
