package openaifake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// apiError is an error answer in OpenAI's shape.
type apiError struct {
	status             int
	message, typ, code string
	param              string
}

func (e *apiError) write(w http.ResponseWriter) {
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": e.message, "type": e.typ, "param": nullable(e.param), "code": nullable(e.code),
	}})
}

func invalid(param, code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...), typ: "invalid_request_error", param: param, code: code}
}

// chatRequest is what the answer needs of a valid request.
type chatRequest struct {
	model        string
	stream       bool
	includeUsage bool
	messages     []map[string]json.RawMessage
	promptWords  int
}

// lastUserText is the text of the last user message.
func (r *chatRequest) lastUserText() string {
	for i := len(r.messages) - 1; i >= 0; i-- {
		m := r.messages[i]
		if str(m["role"]) == "user" {
			return contentText(m["content"])
		}
	}
	return ""
}

func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &parts)
	var texts []string
	for _, p := range parts {
		if p.Type == "text" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// check validates a request as the real API does, in its order: route,
// key, JSON, fields, messages, tools, model.
func (s *Server) check(r *http.Request, body []byte) (*chatRequest, *apiError) {
	if r.URL.Path != "/v1/chat/completions" {
		return nil, &apiError{status: http.StatusNotFound, message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), typ: "invalid_request_error"}
	}
	if r.Method != http.MethodPost {
		return nil, &apiError{status: http.StatusMethodNotAllowed, message: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path), typ: "invalid_request_error"}
	}
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	switch {
	case auth == "" || !ok || key == "":
		return nil, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error",
			message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."}
	case key != s.key:
		return nil, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key",
			message: fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", mask(key))}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, invalid("", "", "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		check, known := topLevel[k]
		if !known {
			return nil, invalid("", "", "Unrecognized request argument supplied: %s", k)
		}
		if e := check(k, fields[k]); e != nil {
			return nil, e
		}
	}
	req := &chatRequest{}
	if json.Unmarshal(fields["model"], &req.model) != nil || req.model == "" {
		return nil, invalid("", "", "you must provide a model parameter")
	}
	if raw, ok := fields["stream"]; ok {
		json.Unmarshal(raw, &req.stream)
	}
	if raw, ok := fields["stream_options"]; ok && string(raw) != "null" {
		if !req.stream {
			return nil, invalid("stream_options", "invalid_value", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		}
		var so struct {
			IncludeUsage bool `json:"include_usage"`
		}
		json.Unmarshal(raw, &so)
		req.includeUsage = so.IncludeUsage
	}
	if e := validateMessages(fields["messages"], req); e != nil {
		return nil, e
	}
	hasTools := fields["tools"] != nil && string(fields["tools"]) != "null"
	for _, k := range []string{"tool_choice", "parallel_tool_calls"} {
		if raw, ok := fields[k]; ok && string(raw) != "null" && !hasTools {
			return nil, invalid(k, "", "Invalid value for '%s': '%s' is only allowed when 'tools' are specified.", k, k)
		}
	}
	if !s.models[req.model] {
		return nil, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found",
			message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.model)}
	}
	return req, nil
}

// mask shows a wrong key as OpenAI does: its ends only.
func mask(key string) string {
	if len(key) <= 8 {
		return strings.Repeat("*", len(key))
	}
	return key[:3] + strings.Repeat("*", len(key)-7) + key[len(key)-4:]
}

type fieldCheck func(name string, raw json.RawMessage) *apiError

// topLevel are the request fields of the Chat Completions API and how the
// fake checks each.
var topLevel = map[string]fieldCheck{
	"model":                 isType("string"),
	"messages":              isType("array"),
	"stream":                nullable(isType("boolean")),
	"stream_options":        nullable(object("include_usage", "include_obfuscation")),
	"temperature":           nullable(number(0, 2)),
	"top_p":                 nullable(number(0, 1)),
	"presence_penalty":      nullable(number(-2, 2)),
	"frequency_penalty":     nullable(number(-2, 2)),
	"n":                     nullable(integer(1, 128)),
	"max_tokens":            nullable(integer(1, math.MaxInt32)),
	"max_completion_tokens": nullable(integer(1, math.MaxInt32)),
	"seed":                  nullable(integer(math.MinInt64, math.MaxInt64)),
	"top_logprobs":          nullable(integer(0, 20)),
	"logprobs":              nullable(isType("boolean")),
	"store":                 nullable(isType("boolean")),
	"parallel_tool_calls":   nullable(isType("boolean")),
	"stop":                  nullable(stop),
	"tools":                 nullable(tools),
	"tool_choice":           nullable(toolChoice),
	"response_format":       nullable(responseFormat),
	"user":                  isType("string"),
	"safety_identifier":     isType("string"),
	"prompt_cache_key":      isType("string"),
	"service_tier":          nullable(isType("string")),
	"reasoning_effort":      nullable(isType("string")),
	"verbosity":             nullable(isType("string")),
	"logit_bias":            nullable(isType("object")),
	"metadata":              nullable(isType("object")),
	"modalities":            nullable(isType("array")),
	"audio":                 nullable(isType("object")),
	"prediction":            nullable(isType("object")),
	"web_search_options":    isType("object"),
	"functions":             isType("array"),
	"function_call":         any2("string", "object"),
}

// jsonType names a JSON value's type as the API's messages do.
func jsonType(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func typeError(name, want string, raw json.RawMessage) *apiError {
	return invalid(name, "invalid_type", "Invalid type for '%s': expected %s, but got %s instead.", name, want, jsonType(raw))
}

func isType(want string) fieldCheck {
	return func(name string, raw json.RawMessage) *apiError {
		if jsonType(raw) != want {
			return typeError(name, "a "+want, raw)
		}
		return nil
	}
}

func any2(a, b string) fieldCheck {
	return func(name string, raw json.RawMessage) *apiError {
		if t := jsonType(raw); t != a && t != b {
			return typeError(name, a+" or "+b, raw)
		}
		return nil
	}
}

func nullable(c fieldCheck) fieldCheck {
	return func(name string, raw json.RawMessage) *apiError {
		if jsonType(raw) == "null" {
			return nil
		}
		return c(name, raw)
	}
}

func number(lo, hi float64) fieldCheck {
	return func(name string, raw json.RawMessage) *apiError {
		var f float64
		if jsonType(raw) != "number" || json.Unmarshal(raw, &f) != nil {
			return typeError(name, "a decimal", raw)
		}
		if f < lo {
			return invalid(name, "decimal_below_min_value", "Invalid '%s': decimal below minimum value. Expected a value >= %g, but got %g instead.", name, lo, f)
		}
		if f > hi {
			return invalid(name, "decimal_above_max_value", "Invalid '%s': decimal above maximum value. Expected a value <= %g, but got %g instead.", name, hi, f)
		}
		return nil
	}
}

func integer(lo, hi int64) fieldCheck {
	return func(name string, raw json.RawMessage) *apiError {
		var n int64
		if jsonType(raw) != "number" || json.Unmarshal(raw, &n) != nil {
			return typeError(name, "an integer", raw)
		}
		if n < lo {
			return invalid(name, "integer_below_min_value", "Invalid '%s': integer below minimum value. Expected a value >= %d, but got %d instead.", name, lo, n)
		}
		if n > hi {
			return invalid(name, "integer_above_max_value", "Invalid '%s': integer above maximum value. Expected a value <= %d, but got %d instead.", name, hi, n)
		}
		return nil
	}
}

// object checks an object has only the given fields.
func object(allowed ...string) fieldCheck {
	return func(name string, raw json.RawMessage) *apiError {
		var o map[string]json.RawMessage
		if jsonType(raw) != "object" || json.Unmarshal(raw, &o) != nil {
			return typeError(name, "an object", raw)
		}
		return onlyFields(name, o, allowed...)
	}
}

func onlyFields(name string, o map[string]json.RawMessage, allowed ...string) *apiError {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return invalid(name+"."+k, "unknown_parameter", "Unknown parameter: '%s.%s'.", name, k)
		}
	}
	return nil
}

func stop(name string, raw json.RawMessage) *apiError {
	if jsonType(raw) == "string" {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return typeError(name, "a string or an array of strings", raw)
	}
	if len(list) > 4 {
		return invalid(name, "array_above_max_length", "Invalid '%s': array too long. Expected an array with maximum length 4, but got an array with length %d instead.", name, len(list))
	}
	return nil
}

var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func tools(name string, raw json.RawMessage) *apiError {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return typeError(name, "an array", raw)
	}
	if len(list) > 128 {
		return invalid(name, "array_above_max_length", "Invalid '%s': array too long. Expected an array with maximum length 128, but got an array with length %d instead.", name, len(list))
	}
	for i, t := range list {
		at := fmt.Sprintf("%s[%d]", name, i)
		var tool map[string]json.RawMessage
		if jsonType(t) != "object" || json.Unmarshal(t, &tool) != nil {
			return typeError(at, "an object", t)
		}
		if e := onlyFields(at, tool, "type", "function"); e != nil {
			return e
		}
		if str(tool["type"]) != "function" {
			return invalid(at+".type", "invalid_value", "Invalid value: '%s'. Supported values are: 'function'.", str(tool["type"]))
		}
		var fn map[string]json.RawMessage
		if jsonType(tool["function"]) != "object" || json.Unmarshal(tool["function"], &fn) != nil {
			return invalid(at+".function", "missing_required_parameter", "Missing required parameter: '%s.function'.", at)
		}
		if e := onlyFields(at+".function", fn, "name", "description", "parameters", "strict"); e != nil {
			return e
		}
		if n := str(fn["name"]); !functionName.MatchString(n) {
			return invalid(at+".function.name", "invalid_value", "Invalid '%s.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.", at)
		}
		if p, ok := fn["parameters"]; ok && jsonType(p) != "object" {
			return typeError(at+".function.parameters", "an object", p)
		}
		if d, ok := fn["description"]; ok && jsonType(d) != "string" {
			return typeError(at+".function.description", "a string", d)
		}
		if st, ok := fn["strict"]; ok && jsonType(st) != "boolean" && jsonType(st) != "null" {
			return typeError(at+".function.strict", "a boolean", st)
		}
	}
	return nil
}

func toolChoice(name string, raw json.RawMessage) *apiError {
	if jsonType(raw) == "string" {
		if v := str(raw); v != "none" && v != "auto" && v != "required" {
			return invalid(name, "invalid_value", "Invalid value: '%s'. Supported values are: 'none', 'auto', and 'required'.", v)
		}
		return nil
	}
	var o struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if jsonType(raw) != "object" || json.Unmarshal(raw, &o) != nil || o.Type != "function" || o.Function.Name == "" {
		return invalid(name, "invalid_value", "Invalid value for '%s': expected 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.", name)
	}
	return nil
}

func responseFormat(name string, raw json.RawMessage) *apiError {
	var o map[string]json.RawMessage
	if jsonType(raw) != "object" || json.Unmarshal(raw, &o) != nil {
		return typeError(name, "an object", raw)
	}
	switch t := str(o["type"]); t {
	case "text", "json_object", "json_schema":
		return nil
	default:
		return invalid(name+".type", "invalid_value", "Invalid value: '%s'. Supported values are: 'text', 'json_object', and 'json_schema'.", t)
	}
}

// str is a JSON string's value, "" for anything else.
func str(raw json.RawMessage) string {
	var s string
	json.Unmarshal(raw, &s)
	return s
}

// messageFields are the fields each role may have.
var messageFields = map[string][]string{
	"system":    {"role", "content", "name"},
	"developer": {"role", "content", "name"},
	"user":      {"role", "content", "name"},
	"assistant": {"role", "content", "name", "tool_calls", "refusal", "audio", "function_call"},
	"tool":      {"role", "content", "tool_call_id"},
	"function":  {"role", "content", "name"},
}

// validateMessages checks the conversation, including that every tool
// call of an assistant is answered by the tool messages right after it,
// and that every tool message answers such a call.
func validateMessages(raw json.RawMessage, req *chatRequest) *apiError {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return typeError("messages", "an array", raw)
	}
	if len(list) == 0 {
		return invalid("messages", "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	var pending []string // the last assistant's unanswered call ids
	pendingFrom := 0
	for i, item := range list {
		at := fmt.Sprintf("messages[%d]", i)
		var m map[string]json.RawMessage
		if jsonType(item) != "object" || json.Unmarshal(item, &m) != nil {
			return typeError(at, "an object", item)
		}
		role := str(m["role"])
		allowed, ok := messageFields[role]
		if !ok {
			if _, has := m["role"]; !has {
				return invalid(at+".role", "missing_required_parameter", "Missing required parameter: '%s.role'.", at)
			}
			return invalid(at+".role", "invalid_value", "Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", role)
		}
		if e := onlyFields(at, m, allowed...); e != nil {
			return e
		}
		if _, ok := m["name"]; ok && jsonType(m["name"]) != "string" {
			return typeError(at+".name", "a string", m["name"])
		}
		if e := validateContent(at, role, m); e != nil {
			return e
		}
		if role == "tool" {
			id := str(m["tool_call_id"])
			if id == "" {
				return invalid(at+".tool_call_id", "missing_required_parameter", "Missing required parameter: '%s.tool_call_id'.", at)
			}
			k := slices.Index(pending, id)
			if k < 0 {
				return invalid(at+".role", "", "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.")
			}
			pending = append(pending[:k], pending[k+1:]...)
			req.promptWords += len(strings.Fields(contentText(m["content"])))
			req.messages = append(req.messages, m)
			continue
		}
		if len(pending) > 0 {
			return unanswered(pendingFrom, pending)
		}
		if role == "assistant" {
			ids, e := validateToolCalls(at, m["tool_calls"])
			if e != nil {
				return e
			}
			pending, pendingFrom = ids, i
		}
		req.promptWords += len(strings.Fields(contentText(m["content"])))
		req.messages = append(req.messages, m)
	}
	if len(pending) > 0 {
		return unanswered(pendingFrom, pending)
	}
	return nil
}

func unanswered(i int, ids []string) *apiError {
	return invalid(fmt.Sprintf("messages.[%d].role", i), "", "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %s", strings.Join(ids, ", "))
}

// validateContent checks a message's content for its role.
func validateContent(at, role string, m map[string]json.RawMessage) *apiError {
	raw, has := m["content"]
	name := at + ".content"
	t := jsonType(raw)
	if !has || t == "null" {
		if role == "assistant" && (m["tool_calls"] != nil || m["function_call"] != nil) {
			return nil
		}
		if role == "assistant" && t == "null" {
			return invalid(name, "invalid_type", "Invalid value for 'content': expected a string, got null.")
		}
		return invalid(name, "missing_required_parameter", "Missing required parameter: '%s'.", name)
	}
	if t == "string" {
		return nil
	}
	if t != "array" {
		return typeError(name, "one of a string or array of objects", raw)
	}
	var parts []json.RawMessage
	json.Unmarshal(raw, &parts)
	if len(parts) == 0 && role == "user" {
		return invalid(name, "empty_array", "Invalid '%s': empty array. Expected an array with minimum length 1, but got an empty array instead.", name)
	}
	types := map[string][]string{"text": {"type", "text"}}
	switch role {
	case "user":
		types["image_url"] = []string{"type", "image_url"}
		types["input_audio"] = []string{"type", "input_audio"}
		types["file"] = []string{"type", "file"}
	case "assistant":
		types["refusal"] = []string{"type", "refusal"}
	}
	for j, p := range parts {
		pat := fmt.Sprintf("%s[%d]", name, j)
		var o map[string]json.RawMessage
		if jsonType(p) != "object" || json.Unmarshal(p, &o) != nil {
			return typeError(pat, "an object", p)
		}
		typ := str(o["type"])
		fields, ok := types[typ]
		if !ok {
			return invalid(pat+".type", "invalid_value", "Invalid value: '%s'. Supported values for a %s message's content are: %s.", typ, role, quoted(types))
		}
		if e := onlyFields(pat, o, fields...); e != nil {
			return e
		}
		if e := validatePart(pat, typ, o); e != nil {
			return e
		}
	}
	return nil
}

func quoted(types map[string][]string) string {
	var names []string
	for k := range types {
		names = append(names, "'"+k+"'")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func validatePart(at, typ string, o map[string]json.RawMessage) *apiError {
	switch typ {
	case "text":
		if jsonType(o["text"]) != "string" {
			return typeError(at+".text", "a string", o["text"])
		}
	case "refusal":
		if jsonType(o["refusal"]) != "string" {
			return typeError(at+".refusal", "a string", o["refusal"])
		}
	case "image_url":
		var iu map[string]json.RawMessage
		if jsonType(o["image_url"]) != "object" || json.Unmarshal(o["image_url"], &iu) != nil {
			return typeError(at+".image_url", "an object", o["image_url"])
		}
		if e := onlyFields(at+".image_url", iu, "url", "detail"); e != nil {
			return e
		}
		url := str(iu["url"])
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "data:image/") {
			return invalid(at+".image_url.url", "invalid_value", "Invalid '%s.image_url.url': expected a URL or a base64 data URL of an image.", at)
		}
	case "input_audio":
		var ia map[string]json.RawMessage
		if jsonType(o["input_audio"]) != "object" || json.Unmarshal(o["input_audio"], &ia) != nil {
			return typeError(at+".input_audio", "an object", o["input_audio"])
		}
		if e := onlyFields(at+".input_audio", ia, "data", "format"); e != nil {
			return e
		}
		if f := str(ia["format"]); f != "wav" && f != "mp3" {
			return invalid(at+".input_audio.format", "invalid_value", "Invalid value: '%s'. Supported values are: 'wav' and 'mp3'.", f)
		}
	case "file":
		var f map[string]json.RawMessage
		if jsonType(o["file"]) != "object" || json.Unmarshal(o["file"], &f) != nil {
			return typeError(at+".file", "an object", o["file"])
		}
		if e := onlyFields(at+".file", f, "file_data", "file_id", "filename"); e != nil {
			return e
		}
	}
	return nil
}

// validateToolCalls checks an assistant's tool_calls and returns their ids.
func validateToolCalls(at string, raw json.RawMessage) ([]string, *apiError) {
	if raw == nil {
		return nil, nil
	}
	name := at + ".tool_calls"
	var calls []json.RawMessage
	if json.Unmarshal(raw, &calls) != nil {
		return nil, typeError(name, "an array", raw)
	}
	var ids []string
	for j, c := range calls {
		cat := fmt.Sprintf("%s[%d]", name, j)
		var o map[string]json.RawMessage
		if jsonType(c) != "object" || json.Unmarshal(c, &o) != nil {
			return nil, typeError(cat, "an object", c)
		}
		if e := onlyFields(cat, o, "id", "type", "function"); e != nil {
			return nil, e
		}
		id := str(o["id"])
		if id == "" {
			return nil, invalid(cat+".id", "missing_required_parameter", "Missing required parameter: '%s.id'.", cat)
		}
		if str(o["type"]) != "function" {
			return nil, invalid(cat+".type", "invalid_value", "Invalid value: '%s'. Supported values are: 'function'.", str(o["type"]))
		}
		var fn map[string]json.RawMessage
		if jsonType(o["function"]) != "object" || json.Unmarshal(o["function"], &fn) != nil {
			return nil, invalid(cat+".function", "missing_required_parameter", "Missing required parameter: '%s.function'.", cat)
		}
		if e := onlyFields(cat+".function", fn, "name", "arguments"); e != nil {
			return nil, e
		}
		if str(fn["name"]) == "" {
			return nil, invalid(cat+".function.name", "missing_required_parameter", "Missing required parameter: '%s.function.name'.", cat)
		}
		if jsonType(fn["arguments"]) != "string" {
			return nil, typeError(cat+".function.arguments", "a string", fn["arguments"])
		}
		ids = append(ids, id)
	}
	return ids, nil
}
