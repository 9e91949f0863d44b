package opperreceiver

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// The explorer's pages as the receiver serves them: status codes, escaping,
// the Host check, the API's write guards and signing in with a key. The
// browser scenarios are e2e/explorer_test.go.

const hostileName = `<script>alert(1)</script>`

func seedExplorer(t *testing.T, st store.Store, project string) (traceID, rootID, genID string) {
	t.Helper()
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	in := `[{"role":"system","content":"` + hostileName + `"},{"role":"user","content":"<b>bold?</b>"}]`
	out := `{"role":"assistant","content":"a reply"}`
	cost := 0.0125
	spans := []translator.Span{
		{TraceID: "t-1", ID: "root", Name: hostileName, Type: translator.TypeAgent, StartTime: t0, EndTime: t0.Add(2 * time.Second),
			Tags: []string{`"><img src=x>`}},
		{TraceID: "t-1", ID: "gen", ParentID: "root", Name: "chat", Type: translator.TypeGeneration, Model: "gpt-4o-mini",
			UserID: "<u>", SessionID: "sess/<1>", Meta: translator.Meta{{Key: translator.MetaOTel,
				Value: map[string]any{"resource": map[string]any{"service.name": "chat-svc"}}}},
			StartTime: t0.Add(time.Second), EndTime: t0.Add(1500 * time.Millisecond), Input: &in, Output: &out,
			Usage: &translator.Usage{Input: 10, Output: 5, Total: 15}, Cost: &cost},
	}
	require.NoError(t, st.UpsertSpans(context.Background(), project, spans, false))
	return "t-1", "root", "gen"
}

func getPage(t *testing.T, ta *testAPI, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	resp, body := doRequest(t, ta.url, "", http.MethodGet, path, nil, append([]string{"Accept", "text/html"}, headers...)...)
	return resp, string(body)
}

func TestExplorerPages(t *testing.T) {
	ta := newTestAPI(t, nil)
	traceID, _, genID := seedExplorer(t, ta.store, DefaultProject)

	for _, path := range []string{"/", "/traces/" + traceID, "/traces/" + traceID + "?span=" + genID, "/traces/" + traceID + "/conversation"} {
		t.Run(path, func(t *testing.T) {
			resp, body := getPage(t, ta, path)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
			assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
			// Every stored string is text: no tag of the data survives.
			assert.NotContains(t, body, "<script>alert")
			assert.NotContains(t, body, "<img src=x>")
			assert.NotContains(t, body, "<b>bold?</b>")
			if path != "/traces/"+traceID+"/conversation" || strings.Contains(body, "system") {
				assert.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
			}
		})
	}
	_, body := getPage(t, ta, "/traces/"+traceID+"?span="+genID)
	assert.Contains(t, body, "gpt-4o-mini")
	assert.Contains(t, body, `class="msg msg-user"`)
	assert.Contains(t, body, "&lt;b&gt;bold?&lt;/b&gt;")
	assert.Contains(t, body, `id="span-json"`)
	// The model, user and session lead to their traces, escaped in the URL.
	assert.Contains(t, body, `href="/?model=gpt-4o-mini"`)
	assert.Contains(t, body, `href="/?user=%3Cu%3E"`)
	assert.Contains(t, body, `href="/sessions/sess%2F%3C1%3E"`)
	assert.Contains(t, body, `href="/?service=chat-svc"`)

	resp, body := getPage(t, ta, "/sessions/sess%2F%3C1%3E")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, `data-trace="`+traceID+`"`)
	assert.Contains(t, body, "sess/&lt;1&gt;")
	for _, q := range []string{"model=gpt-4o-mini", "user=%3Cu%3E", "session=sess%2F%3C1%3E", "service=chat-svc"} {
		_, body = getPage(t, ta, "/?"+q)
		assert.Contains(t, body, `data-trace="`+traceID+`"`, q)
	}
	_, body = getPage(t, ta, "/?model=gpt-4o")
	assert.NotContains(t, body, `data-trace="`+traceID+`"`, "exact model")

	resp, body = getPage(t, ta, "/usage")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, `href="/?model=gpt-4o-mini"`)
	assert.Contains(t, body, "<td class=\"num\">15</td>", "the generation's tokens")
	assert.Contains(t, body, "$0.0125")
	_, body = getPage(t, ta, "/usage?from=2030-01-01T00:00:00Z")
	assert.Contains(t, body, "No LLM usage in this range.")
}

func TestExplorerClientMistakes(t *testing.T) {
	ta := newTestAPI(t, nil)
	traceID, _, _ := seedExplorer(t, ta.store, DefaultProject)
	cases := []struct {
		path   string
		status int
		want   string
	}{
		{"/traces/no-such-trace", http.StatusNotFound, "Trace not found"},
		{"/traces/no-such-trace/conversation", http.StatusNotFound, "Trace not found"},
		{"/traces/" + traceID + "?span=nope", http.StatusNotFound, "Span not found"},
		{"/traces/" + traceID + "/spans/nope", http.StatusNotFound, "Span not found"},
		{"/traces/" + traceID + "/tree?parent=nope", http.StatusNotFound, "Span not found"},
		{"/traces/" + traceID + "/tree?offset=-1", http.StatusBadRequest, "whole numbers"},
		{"/traces/" + traceID + "/tree?count=x", http.StatusBadRequest, "whole numbers"},
		{"/?min_cost=cheap", http.StatusBadRequest, "min_cost: Input should be a non-negative number"},
		{"/?status=weird", http.StatusBadRequest, "status: Input should be"},
		{"/?from=yesterday", http.StatusBadRequest, "from: Input should be an RFC 3339 timestamp"},
		{"/?min_duration_ms=-5", http.StatusBadRequest, "min_duration_ms"},
		{"/?limit=1000", http.StatusBadRequest, "limit"},
		{"/?offset=x", http.StatusBadRequest, "offset"},
		{"/no/such/page", http.StatusNotFound, "Page not found"},
		{"/sessions/none", http.StatusNotFound, "Session not found"},
		{"/usage?from=soon", http.StatusBadRequest, "from: Input should be an RFC 3339 timestamp"},
		{"/explorer/assets/nope.css", http.StatusNotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			resp, body := getPage(t, ta, c.path)
			assert.Equal(t, c.status, resp.StatusCode, body)
			assert.Contains(t, body, c.want)
		})
	}
	// The list with a bad filter keeps the form, with what was typed.
	_, body := getPage(t, ta, "/?min_cost="+url.QueryEscape(`<x>`))
	assert.Contains(t, body, `value="&lt;x&gt;"`)
	// An API client asking for an unknown path still gets JSON.
	resp, out := doRequest(t, ta.url, "", http.MethodGet, "/no/such/page", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), string(out))
}

func TestExplorerCompressesPages(t *testing.T) {
	ta := newTestAPI(t, nil)
	seedExplorer(t, ta.store, DefaultProject)
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(enc string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, ta.url+"/", nil)
		require.NoError(t, err)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("gzip, deflate, br")
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding")
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	html, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Contains(t, string(html), `id="trace-rows"`)
	for _, enc := range []string{"", "identity", "gzip;q=0"} {
		resp = get(enc)
		assert.Empty(t, resp.Header.Get("Content-Encoding"), enc)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Contains(t, string(body), `id="trace-rows"`, enc)
	}
}

func TestExplorerAssets(t *testing.T) {
	ta := newTestAPI(t, nil)
	_, body := getPage(t, ta, "/")
	i := strings.Index(body, "/explorer/assets/explorer.css?v=")
	require.Positive(t, i)
	href := body[i : i+strings.Index(body[i:], `"`)]
	resp, css := getPage(t, ta, href)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/css")
	assert.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
	assert.Contains(t, css, ".trace-row")
	resp, _ = getPage(t, ta, "/explorer/assets/explorer.js")
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"), "an unversioned URL is revalidated")
}

func TestExplorerDisabled(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) { c.Explorer.Enabled = false })
	resp, body := getPage(t, ta, "/")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, "no such endpoint")
}

func TestHostCheck(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) { c.AllowedHosts = []string{"opper.internal"} })
	send := func(host string) int {
		req, err := http.NewRequest(http.MethodGet, ta.url+"/v3/traces", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, h := range []string{"localhost:8090", "127.0.0.1:8090", "[::1]:8090", "app.localhost", "opper.internal:8090", "OPPER.internal", "localhost."} {
		assert.Equal(t, http.StatusOK, send(h), h)
	}
	// A name a web page points at 127.0.0.1 (DNS rebinding) is refused.
	for _, h := range []string{"attacker.example", "attacker.example:8090", "localhost.attacker.example", "127.0.0.1.nip.io"} {
		assert.Equal(t, http.StatusMisdirectedRequest, send(h), h)
	}
	// With keys, the key is the guard.
	keyed := newTestAPI(t, func(c *Config) { c.APIKeys = []APIKeyConfig{{Key: "k", Project: "p"}} })
	req, err := http.NewRequest(http.MethodGet, keyed.url+"/v3/traces", nil)
	require.NoError(t, err)
	req.Host = "opper.example.com"
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestHostGuardEndpoints(t *testing.T) {
	cfg := func(endpoint string, hosts ...string) *Config {
		c := createDefaultConfig().(*Config)
		c.ServerConfig.NetAddr.Endpoint = endpoint
		c.AllowedHosts = hosts
		return c
	}
	assert.True(t, newHostGuard(cfg("0.0.0.0:8090")).off, "anonymous on every interface without names: no check (warned)")
	g := newHostGuard(cfg("0.0.0.0:8090", "gw.internal"))
	assert.False(t, g.off)
	assert.True(t, g.allowed("gw.internal:8090"))
	assert.False(t, g.allowed("other:8090"))
	g = newHostGuard(cfg("10.0.0.5:8090"))
	assert.True(t, g.allowed("10.0.0.5:8090"), "the endpoint's own address")
	assert.False(t, g.allowed("evil.example"))
}

func TestAPIWritesNeedJSON(t *testing.T) {
	ta := newTestAPI(t, nil)
	body := `{"name":"x"}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		req, err := http.NewRequest(http.MethodPost, ta.url+"/v2/spans", strings.NewReader(body))
		require.NoError(t, err)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "content type %q", ct)
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/vnd.opper+json"} {
		resp, out := doRequest(t, ta.url, "", http.MethodPost, "/v2/spans", body, "Content-Type", ct)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", ct, out)
	}
	// A browser's cross-site request is refused even as JSON (a page can
	// send one with no-cors only as a simple request, but say it could).
	resp, out := doRequest(t, ta.url, "", http.MethodPost, "/v2/spans", body, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, string(out))
	resp, out = doRequest(t, ta.url, "", http.MethodPost, "/v2/spans", body, "Origin", "https://attacker.example")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, string(out))
	assert.Equal(t, http.StatusOK, ta.mustStatus(http.MethodGet, "/v2/traces", nil))
}

func (ta *testAPI) mustStatus(method, path string, body any) int {
	resp, _ := ta.do(method, path, body)
	return resp.StatusCode
}

func TestExplorerSignIn(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) {
		c.APIKeys = []APIKeyConfig{{Key: "key-alpha", Project: "alpha"}, {Key: "key-beta", Project: "beta"}}
	})
	traceID, _, _ := seedExplorer(t, ta.store, "alpha")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := func(values url.Values, headers ...string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, ta.url+"/explorer/login", strings.NewReader(values.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}

	resp, body := getPage(t, ta, "/traces/"+traceID)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, `type="password"`)
	assert.Contains(t, body, `value="/traces/`+traceID+`"`, "back to the page after signing in")

	resp = form(url.Values{"key": {"wrong"}, "next": {"/"}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Empty(t, resp.Cookies())

	resp = form(url.Values{"key": {"key-alpha"}, "next": {"//evil.example/x"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"), "never away from this site")
	require.Len(t, resp.Cookies(), 1)
	c := resp.Cookies()[0]
	assert.Equal(t, "opper_explorer_key", c.Name)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)

	// The cookie's key sees its project only.
	resp, body = getPage(t, ta, "/traces/"+traceID, "Cookie", "opper_explorer_key=key-alpha")
	assert.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, _ = getPage(t, ta, "/traces/"+traceID, "Cookie", "opper_explorer_key=key-beta")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = getPage(t, ta, "/traces/"+traceID, "Cookie", "opper_explorer_key=nope")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	// The API does not take the cookie: a cross-site page cannot use it.
	resp, _ = doRequest(t, ta.url, "", http.MethodGet, "/v3/traces/"+traceID, nil, "Cookie", "opper_explorer_key=key-alpha")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Another site's form cannot sign anybody in, or out.
	resp = form(url.Values{"key": {"key-alpha"}}, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Empty(t, resp.Cookies())
	req, err := http.NewRequest(http.MethodPost, ta.url+"/explorer/logout", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "https://attacker.example")
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}
