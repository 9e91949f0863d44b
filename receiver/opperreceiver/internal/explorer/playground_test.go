package explorer

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/receiver/opperreceiver/internal/playground"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/memory"
	"github.com/opperotel/bridge/translator"
)

// fakePlayground records the runs the explorer hands it.
type fakePlayground struct {
	models  []playground.Model
	project string
	body    string
	calls   int
}

func (f *fakePlayground) Models() []playground.Model { return f.models }

func (f *fakePlayground) ServeRun(w http.ResponseWriter, r *http.Request, project string) {
	b, _ := io.ReadAll(r.Body)
	f.calls++
	f.project, f.body = project, string(b)
	w.Header().Set("Content-Type", "text/event-stream")
	_, _ = io.WriteString(w, "event: done\ndata: {}\n\n")
}

const hostile = `</textarea><script>alert(1)</script>`

// seedPlayground stores a trace with one generation: a system prompt, a
// hostile user turn, a tool call and its result, and the answer.
func seedPlayground(t *testing.T, st store.Store, project string, retained bool) {
	t.Helper()
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	in := `[{"role":"system","content":"Be brief."},{"role":"user","content":"` + strings.ReplaceAll(hostile, `"`, `\"`) + `"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},` +
		`{"role":"tool","tool_call_id":"c1","content":"{\"temp\":7}"}]`
	out := `{"role":"assistant","content":"7 degrees."}`
	gen := translator.Span{TraceID: "t-1", ID: "gen", ParentID: "root", Name: "chat", Type: translator.TypeGeneration,
		Model: "gpt-4o-mini", StartTime: t0.Add(time.Second), EndTime: t0.Add(2 * time.Second),
		Meta: translator.Meta{{Key: "model_parameters", Value: map[string]any{"temperature": 0.3, "max_tokens": 200}}}}
	if retained {
		gen.Input, gen.Output = &in, &out
	}
	spans := []translator.Span{
		{TraceID: "t-1", ID: "root", Name: "agent", Type: translator.TypeAgent, StartTime: t0, EndTime: t0.Add(3 * time.Second)},
		gen,
	}
	require.NoError(t, st.UpsertSpans(context.Background(), project, spans, false))
}

func newTestExplorer(t *testing.T, pg Playground, keys bool) (*httptest.Server, store.Store) {
	t.Helper()
	st := memory.New()
	e, err := New(Options{Store: st, Playground: pg, KeysRequired: keys,
		ProjectForKey: func(key string) (string, bool) { return "alpha", key == "key-alpha" }})
	require.NoError(t, err)
	mux := http.NewServeMux()
	e.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, st
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestPlaygroundPanel(t *testing.T) {
	pg := &fakePlayground{models: []playground.Model{{Provider: "local", Name: "llama3"}, {Provider: "openai", Name: "gpt-4o-mini"}}}
	srv, st := newTestExplorer(t, pg, false)
	seedPlayground(t, st, store.DefaultProject, true)

	status, body := get(t, srv.URL+"/traces/t-1/conversation?span=gen")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `id="pg-form"`)
	// The input as editable turns, the answer apart for Compare.
	roles := regexp.MustCompile(`<option selected>(\w+)</option>`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, r := range roles {
		got = append(got, r[1])
	}
	assert.Equal(t, []string{"system", "user", "assistant", "tool", "user"}, got, "four turns, then the new turn's template")
	assert.Contains(t, body, `data-kind="text" rows="2" spellcheck="true">Be brief.</textarea>`)
	assert.Contains(t, body, `&#34;name&#34;: &#34;weather&#34;`, "the tool call as JSON")
	assert.Contains(t, body, "7 degrees.", "the original answer")
	// The models, the generation's own selected; parameters prefilled.
	assert.Contains(t, body, `<option value="llama3" data-provider="local">llama3 (local)</option>`)
	assert.Contains(t, body, `<option value="gpt-4o-mini" data-provider="openai" selected>gpt-4o-mini (openai)</option>`)
	assert.Contains(t, body, `id="pg-temperature" name="temperature" type="number" step="0.1" min="0" max="2" value="0.3"`)
	assert.Contains(t, body, `value="200"`)

	// Hostile text is text: in the text area and in the script's JSON.
	assert.NotContains(t, body, "<script>alert")
	assert.Contains(t, body, html.EscapeString(hostile))
	m := regexp.MustCompile(`(?s)<script type="application/json" id="pg-data">(.*?)</script>`).FindStringSubmatch(body)
	require.NotNil(t, m)
	var data playgroundData
	require.NoError(t, json.Unmarshal([]byte(m[1]), &data))
	assert.Equal(t, "gen", data.SpanID)
	assert.Equal(t, 4, data.Edited)
	assert.Equal(t, RunPath, data.RunPath)
	require.Len(t, data.Conversation.Messages, 5)
	assert.Equal(t, hostile, data.Conversation.Messages[1].Parts[0].Content)

	// Without ?span the last generation; the model not configured: the first.
	pg.models = []playground.Model{{Provider: "local", Name: "llama3"}}
	_, body = get(t, srv.URL+"/traces/t-1/conversation")
	assert.Contains(t, body, `<option value="llama3" data-provider="local" selected>`)

	status, _ = get(t, srv.URL+"/traces/t-1/conversation?span=root")
	assert.Equal(t, http.StatusNotFound, status, "not a generation")
}

func TestPlaygroundPanelStates(t *testing.T) {
	srv, st := newTestExplorer(t, nil, false)
	seedPlayground(t, st, store.DefaultProject, true)
	_, body := get(t, srv.URL+"/traces/t-1/conversation")
	assert.Contains(t, body, "It is off: this receiver has no model providers.")
	assert.Contains(t, body, "api_key: ${env:OPENAI_API_KEY}")
	assert.NotContains(t, body, `id="pg-form"`)
	assert.Contains(t, body, `class="turn"`, "the conversation is still shown")

	srv, st = newTestExplorer(t, &fakePlayground{models: []playground.Model{{Provider: "p", Name: "m"}}}, false)
	seedPlayground(t, st, store.DefaultProject, false)
	_, body = get(t, srv.URL+"/traces/t-1/conversation")
	assert.Contains(t, body, "were not retained (this project&#39;s retention keeps metadata only")
	assert.NotContains(t, body, `id="pg-form"`)

	// The trace page links to the playground of its generation.
	_, body = get(t, srv.URL+"/traces/t-1")
	assert.Contains(t, body, `href="/traces/t-1/conversation?span=gen#playground" class="playground"`)
}

func postRun(t *testing.T, url string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+RunPath, strings.NewReader(`{"trace_id":"t-1","model":"m","messages":[]}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPlaygroundRunRoute(t *testing.T) {
	pg := &fakePlayground{models: []playground.Model{{Provider: "p", Name: "m"}}}
	srv, _ := newTestExplorer(t, pg, true)

	status, body := postRun(t, srv.URL, "Cookie", CookieName+"=key-alpha", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "alpha", pg.project, "the signed-in key's project")
	assert.JSONEq(t, `{"trace_id":"t-1","model":"m","messages":[]}`, pg.body)
	assert.Contains(t, body, "event: done")

	// Another site's page cannot make the browser run (and spend) anything.
	status, _ = postRun(t, srv.URL, "Cookie", CookieName+"=key-alpha", "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, status)
	status, _ = postRun(t, srv.URL, "Cookie", CookieName+"=key-alpha", "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, status)
	// Signed out: the API's error shape, for the script to show.
	status, body = postRun(t, srv.URL, "Cookie", CookieName+"=wrong")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, `"message":"Sign in again`)
	assert.Equal(t, 1, pg.calls)

	// No playground configured: a 404 page.
	srv, _ = newTestExplorer(t, nil, false)
	status, body = postRun(t, srv.URL)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body, "Playground not configured")
}

func TestOriginalAnswerStart(t *testing.T) {
	msg := func(role string) translator.Message { return translator.Message{Role: role} }
	assert.Equal(t, 2, originalAnswerStart([]translator.Message{msg("system"), msg("user"), msg("assistant")}))
	assert.Equal(t, 2, originalAnswerStart([]translator.Message{msg("user"), msg("tool")}), "no answer recorded")
	assert.Equal(t, 1, originalAnswerStart([]translator.Message{msg("assistant")}), "only an answer: all editable")
}
