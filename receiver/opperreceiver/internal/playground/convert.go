package playground

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/opperotel/bridge/translator"
)

// chatMessage is one message of a Chat Completions request.
type chatMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content,omitempty"` // a string or []map[string]any; nil only beside tool calls
	Name       string         `json:"name,omitempty"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text, as a string
}

// toChatMessages converts canonical messages to Chat Completions ones:
//
//   - system, user and assistant text parts are joined with newlines into
//     one string; a user message with images or audio becomes an array of
//     content parts ({"type":"image_url"}, {"type":"input_audio"}, and
//     {"type":"file"} for a PDF);
//   - an assistant's tool_call parts become tool_calls, their arguments a
//     JSON string; a call without an id gets one ("call_<message>_<part>")
//     that the responses without ids are paired to, by tool name, else in
//     order;
//   - every tool_call_response part, in whichever message, becomes its own
//     {"role":"tool"} message, placed before the rest of that message; a
//     tool message's text parts are a response too;
//   - reasoning parts are dropped: providers do not take them back, and an
//     assistant message left with nothing is left out;
//   - a finish reason is not sent; any other part is refused.
func toChatMessages(msgs []translator.Message) ([]chatMessage, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: no messages", ErrInvalidRequest)
	}
	var out []chatMessage
	var pending []chatToolCall // the latest assistant's calls not yet answered
	for i, m := range msgs {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: message %d (%s): %s", ErrInvalidRequest, i+1, m.Role, fmt.Sprintf(format, args...))
		}
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return nil, bad("unknown role %q (want system, user, assistant or tool)", m.Role)
		}
		var texts []string
		var content []map[string]any // texts and media in order, used when there is media
		hasMedia := false
		var calls []chatToolCall
		hasReasoning := false
		for j, p := range m.Parts {
			switch p.Type {
			case translator.PartText:
				if m.Role == "tool" {
					resp, err := pairResponse(&pending, "", m.Name, p.Content)
					if err != nil {
						return nil, bad("%v", err)
					}
					out = append(out, resp)
					continue
				}
				texts = append(texts, p.Content)
				content = append(content, map[string]any{"type": "text", "text": p.Content})
			case translator.PartReasoning:
				hasReasoning = true
			case translator.PartToolCall:
				if m.Role != "assistant" {
					return nil, bad("only an assistant message can hold a tool call")
				}
				id := p.ID
				if id == "" {
					id = "call_" + strconv.Itoa(i+1) + "_" + strconv.Itoa(j+1)
				}
				if p.Name == "" {
					return nil, bad("tool call %q has no tool name", id)
				}
				calls = append(calls, chatToolCall{ID: id, Type: "function", Function: chatFunction{Name: p.Name, Arguments: jsonString(p.Arguments, "{}")}})
			case translator.PartToolCallResponse:
				resp, err := pairResponse(&pending, p.ID, p.Name, jsonString(p.Response, ""))
				if err != nil {
					return nil, bad("%v", err)
				}
				out = append(out, resp)
			case translator.PartURI, translator.PartBlob:
				if m.Role != "user" {
					return nil, bad("only a user message can hold an image or other media")
				}
				c, err := mediaContent(p)
				if err != nil {
					return nil, bad("%v", err)
				}
				content, hasMedia = append(content, c), true
			default:
				return nil, bad("a part of type %q cannot be sent to a chat completions endpoint", p.Type)
			}
		}
		if m.Role == "tool" {
			continue
		}
		cm := chatMessage{Role: m.Role, Name: m.Name}
		switch {
		case hasMedia:
			cm.Content = content
		case len(texts) > 0 || len(calls) == 0:
			cm.Content = strings.Join(texts, "\n")
		}
		if m.Role == "assistant" {
			cm.ToolCalls = calls
			pending = calls
			if len(calls) == 0 && len(texts) == 0 && hasReasoning {
				continue
			}
		}
		out = append(out, cm)
	}
	return out, nil
}

// pairResponse makes a tool message for a response, taking its call out of
// pending. A response without an id answers the first pending call of its
// tool, else the first pending call; an id is sent as it is, the provider
// judges it.
func pairResponse(pending *[]chatToolCall, id, name, content string) (chatMessage, error) {
	match := -1
	for k, c := range *pending {
		if (id != "" && c.ID == id) || (id == "" && name != "" && c.Function.Name == name) {
			match = k
			break
		}
	}
	if match < 0 && id == "" && len(*pending) > 0 {
		match = 0
	}
	switch {
	case match >= 0:
		id = (*pending)[match].ID
		// A copy: the calls are also the assistant message's tool_calls.
		*pending = append((*pending)[:match:match], (*pending)[match+1:]...)
	case id == "":
		return chatMessage{}, fmt.Errorf("a tool response without a call id answers no tool call before it")
	}
	return chatMessage{Role: "tool", ToolCallID: id, Content: content}, nil
}

// jsonString is a canonical JSON value as the string a provider takes: a
// JSON string's own text, or the compact JSON; empty gives def.
func jsonString(raw json.RawMessage, def string) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return def
	}
	var s string
	if t[0] == '"' && json.Unmarshal(t, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) != nil {
		return string(t)
	}
	return buf.String()
}

// mediaContent is a user content part for a uri or blob part: images as
// image_url (a link, or a data: URL), WAV and MP3 as input_audio, PDF as a
// file. Chat Completions takes no other media.
func mediaContent(p translator.Part) (map[string]any, error) {
	mime := strings.ToLower(strings.TrimSpace(p.MimeType))
	if p.Type == translator.PartURI {
		if k := mediaKind(p.Modality, mime); k != "" && k != "image" {
			return nil, fmt.Errorf("a %s link cannot be sent to a chat completions endpoint (only image links can)", k)
		}
		if p.URI == "" {
			return nil, fmt.Errorf("an image link without a URI")
		}
		return map[string]any{"type": "image_url", "image_url": map[string]any{"url": p.URI}}, nil
	}
	if p.Content == "" {
		return nil, fmt.Errorf("a blob part without data")
	}
	if mime == "" {
		mime = sniffMime(p.Content)
	}
	switch kind := mediaKind(p.Modality, mime); {
	case kind == "image":
		if !strings.HasPrefix(mime, "image/") {
			return nil, fmt.Errorf("an image blob without an image mime type")
		}
		return map[string]any{"type": "image_url", "image_url": map[string]any{"url": "data:" + mime + ";base64," + p.Content}}, nil
	case kind == "audio":
		format := map[string]string{"audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}[mime]
		if format == "" {
			return nil, fmt.Errorf("audio of type %q cannot be sent (wav and mp3 can)", mime)
		}
		return map[string]any{"type": "input_audio", "input_audio": map[string]any{"data": p.Content, "format": format}}, nil
	case mime == "application/pdf":
		return map[string]any{"type": "file", "file": map[string]any{"filename": "document.pdf", "file_data": "data:application/pdf;base64," + p.Content}}, nil
	case mime == "":
		return nil, fmt.Errorf("a blob part whose type is unknown (no mime type)")
	default:
		return nil, fmt.Errorf("a blob of type %q cannot be sent to a chat completions endpoint", mime)
	}
}

// mediaKind is image, audio, video or file, from the modality or else the
// mime type; "" when neither says.
func mediaKind(modality, mime string) string {
	if modality != "" {
		return strings.ToLower(modality)
	}
	if mime == "" {
		return ""
	}
	switch top, _, _ := strings.Cut(mime, "/"); top {
	case "image", "audio", "video":
		return top
	}
	return "file"
}

// sniffMime guesses the type of base64 data from its first bytes.
func sniffMime(b64 string) string {
	head := b64[:min(len(b64), 700)]
	head = head[:len(head)/4*4]
	data, err := base64.StdEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	if mime, _, _ := strings.Cut(http.DetectContentType(data), ";"); mime != "application/octet-stream" && !strings.HasPrefix(mime, "text/") {
		return mime
	}
	return ""
}
