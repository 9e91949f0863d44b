package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/opperotel/bridge/opperapi"
)

// apiVersion selects the wire shapes of an answer.
type apiVersion int

const (
	v2 apiVersion = 2
	v3 apiVersion = 3
)

// versionOf returns the API version a path belongs to; anything outside
// /v3/ answers in the v2 shape, the one the stricter SDK checks.
func versionOf(path string) apiVersion {
	if strings.HasPrefix(path, "/v3/") || path == "/v3" {
		return v3
	}
	return v2
}

// apiError is a client-facing error. Status is the v2 status; invalid
// fields are 422 there and 400 in v3.
type apiError struct {
	status int
	msg    string
	issues []opperapi.ValidationIssue
}

func (e *apiError) Error() string { return e.msg }

func errBadRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func errNotFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, msg: what + " not found"}
}

// errInvalid reports invalid fields: loc is the path of the field, as in
// FastAPI ("body", "name") or ("query", "limit").
func errInvalid(typ, msg string, loc ...any) *apiError {
	return &apiError{
		status: http.StatusUnprocessableEntity,
		msg:    fmt.Sprintf("%s: %s", locString(loc), msg),
		issues: []opperapi.ValidationIssue{{Loc: loc, Msg: msg, Type: typ}},
	}
}

func locString(loc []any) string {
	parts := make([]string, len(loc))
	for i, l := range loc {
		parts[i] = fmt.Sprint(l)
	}
	return strings.Join(parts, ".")
}

// fallback bodies, used if an error body cannot be encoded.
var (
	fallbackV2 = []byte(`{"type":"InternalServerError","message":"Internal server error"}`)
	fallbackV3 = []byte(`{"error":{"code":"internal_server_error","message":"Internal server error"}}`)
)

// writeErrorV2 writes {"type","message","detail"}: detail is the FastAPI
// list of issues for a 422, the specific message otherwise.
func writeErrorV2(w http.ResponseWriter, e *apiError) {
	var detail any = e.msg
	if e.status == http.StatusUnprocessableEntity && len(e.issues) > 0 {
		detail = e.issues
	}
	writeJSONOr(w, e.status, opperapi.NewError(e.status, detail), fallbackV2)
}

// writeErrorV3 writes {"error":{"code","message","details"}}; invalid
// fields are a 400 in v3, with the issues as details.
func writeErrorV3(w http.ResponseWriter, e *apiError) {
	status := e.status
	if status == http.StatusUnprocessableEntity {
		status = http.StatusBadRequest
	}
	var details any
	if len(e.issues) > 0 {
		details = e.issues
	}
	writeJSONOr(w, status, opperapi.NewErrorV3(status, e.msg, details), fallbackV3)
}

func writeError(w http.ResponseWriter, v apiVersion, e *apiError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="opper"`)
	}
	if v == v3 {
		writeErrorV3(w, e)
		return
	}
	writeErrorV2(w, e)
}

func writeJSONOr(w http.ResponseWriter, status int, v any, fallback []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		b, status = fallback, http.StatusInternalServerError
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readJSON reads the request body (within the size limit) and decodes it
// into dst, as decodeJSON does.
func readJSON[T any](a *api, w http.ResponseWriter, r *http.Request, dst *T) *apiError {
	body, e := a.readBody(w, r)
	if e != nil {
		return e
	}
	return decodeJSON(body, dst)
}

// decodeJSON decodes a request body into dst. A body that is not JSON is a
// 400; JSON whose fields have the wrong type or form is an invalid-field
// error naming each offending field.
func decodeJSON[T any](body []byte, dst *T) *apiError {
	if len(strings.TrimSpace(string(body))) == 0 {
		return errInvalid("missing", "Field required: the request needs a JSON body", "body")
	}
	// Unmarshal checks the syntax of the whole body before it decodes.
	err := json.Unmarshal(body, dst)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errBadRequest("the request body is not valid JSON: %s", cleanJSONError(err))
	}
	if !json.Valid(body) {
		// A custom decoder's error on malformed input.
		return errBadRequest("the request body is not valid JSON")
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) && ute.Field == "" {
		return errInvalid("model_attributes_type", "Input should be a valid dictionary or object", "body")
	}
	return fieldErrors[T](body, err)
}

// fieldErrors finds which fields of body fail to decode into T by decoding
// each one alone, so the answer lists every bad field with its location.
func fieldErrors[T any](body []byte, whole error) *apiError {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return errInvalid("value_error", cleanJSONError(whole), "body")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e := &apiError{status: http.StatusUnprocessableEntity}
	for _, k := range keys {
		single, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		var probe T
		if err := json.Unmarshal(single, &probe); err != nil {
			typ, msg := describeJSONError(err)
			e.issues = append(e.issues, opperapi.ValidationIssue{Loc: []any{"body", k}, Msg: msg, Type: typ})
		}
	}
	if len(e.issues) == 0 {
		return errInvalid("value_error", cleanJSONError(whole), "body")
	}
	msgs := make([]string, len(e.issues))
	for i, is := range e.issues {
		msgs[i] = locString(is.Loc) + ": " + is.Msg
	}
	e.msg = strings.Join(msgs, "; ")
	return e
}

// describeJSONError turns a decoding error into a FastAPI-like type and
// message without Go type names.
func describeJSONError(err error) (typ, msg string) {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		switch ute.Type.Kind() {
		case reflect.Int, reflect.Int64, reflect.Int32:
			return "int_type", "Input should be a valid integer"
		case reflect.Float64, reflect.Float32:
			return "float_type", "Input should be a valid number"
		case reflect.String:
			return "string_type", "Input should be a valid string"
		case reflect.Bool:
			return "bool_type", "Input should be a valid boolean"
		case reflect.Map, reflect.Struct:
			return "dict_type", "Input should be a valid dictionary"
		case reflect.Slice:
			return "list_type", "Input should be a valid list"
		}
		return "type_error", "Input has the wrong type"
	}
	if errors.Is(err, opperapi.ErrNotObject) {
		return "dict_type", "Input should be a valid dictionary"
	}
	return "value_error", cleanJSONError(err)
}

func cleanJSONError(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}
