package opperapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Error is the v2 error body: {"type","message","detail"}.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// ValidationIssue is one element of a v2 422 detail list, in the FastAPI
// shape the hosted API uses: loc is the path to the bad field.
type ValidationIssue struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// ErrorV3 is the v3 error body: {"error":{"code","message","details"}}.
type ErrorV3 struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the inside of a v3 error.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// v2ErrorTypes are the type names and default messages the hosted API
// documents (docs.opper.ai/api-reference/errors).
var v2ErrorTypes = map[int][2]string{
	http.StatusBadRequest:            {"BadRequestError", "The request is invalid"},
	http.StatusUnauthorized:          {"UnauthorizedError", "The request is unauthorized"},
	http.StatusForbidden:             {"HTTPException", "Forbidden"},
	http.StatusNotFound:              {"NotFoundError", "The resource was not found"},
	http.StatusMethodNotAllowed:      {"HTTPException", "Method not allowed"},
	http.StatusConflict:              {"ConflictError", "The resource already exists"},
	http.StatusRequestEntityTooLarge: {"HTTPException", "The request body is too large"},
	http.StatusUnsupportedMediaType:  {"HTTPException", "Unsupported media type"},
	http.StatusUnprocessableEntity:   {"RequestValidationError", "The request is invalid"},
	http.StatusTooManyRequests:       {"HTTPException", "Too many requests"},
	http.StatusInternalServerError:   {"InternalServerError", "Internal server error"},
	http.StatusServiceUnavailable:    {"HTTPException", "Service unavailable"},
}

// NewError returns the v2 error body for status with the documented type
// name and default message; detail says what exactly was wrong.
func NewError(status int, detail any) Error {
	tm, ok := v2ErrorTypes[status]
	if !ok {
		tm = [2]string{"HTTPException", http.StatusText(status)}
	}
	return Error{Type: tm[0], Message: tm[1], Detail: detail}
}

// NewErrorV3 returns the v3 error body for status; the code is the
// snake_case form of the status text ("not_found", "bad_request").
func NewErrorV3(status int, message string, details any) ErrorV3 {
	if message == "" {
		message = http.StatusText(status)
	}
	return ErrorV3{Error: ErrorBody{Code: StatusCode(status), Message: message, Details: details}}
}

// StatusCode returns the v3 error code for an HTTP status.
func StatusCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusUnprocessableEntity:
		return "validation_error"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	}
	text := http.StatusText(status)
	if text == "" {
		return "error"
	}
	return strings.ReplaceAll(strings.ToLower(text), " ", "_")
}

// ErrorMessage extracts a human-readable message from an error body of
// either version (or any JSON), for logs; it returns "" when there is none.
func ErrorMessage(body []byte) string {
	var probe struct {
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Error   *ErrorBody      `json:"error"`
	}
	if json.Unmarshal(body, &probe) != nil {
		return strings.TrimSpace(truncate(string(body), 256))
	}
	if probe.Error != nil && probe.Error.Message != "" {
		return probe.Error.Message
	}
	msg := probe.Message
	if d := strings.TrimSpace(string(probe.Detail)); d != "" && d != "null" {
		var s string
		if json.Unmarshal(probe.Detail, &s) == nil {
			d = s
		}
		if msg == "" {
			return truncate(d, 256)
		}
		msg += ": " + truncate(d, 256)
	}
	return msg
}
