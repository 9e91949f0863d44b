// Package explorer serves the trace explorer: the web pages people use to
// read the traces in the receiver's store (the trace list, a trace's tree
// and waterfall with the detail of one span, and the trace as a
// conversation). Pages are rendered on the server from embedded templates;
// a little embedded JavaScript adds keyboard walking, collapsing, copying
// and live updates, and every page works without it.
package explorer // import "github.com/opperotel/bridge/receiver/opperreceiver/internal/explorer"

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
)

// AssetPrefix is where the pages' own files (style sheet, script, icon)
// are served; the explorer's own form endpoints live under it too.
const AssetPrefix = "/explorer/"

// CookieName holds the API key a person signed in with.
const CookieName = "opper_explorer_key"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options wires the explorer into the receiver.
type Options struct {
	Store  store.Store
	Logger *zap.Logger
	// KeysRequired is set when the receiver has api_keys: every page then
	// needs a key, presented once on the sign-in page and kept in a cookie.
	KeysRequired bool
	// ProjectForKey returns the project of an API key (compared in constant
	// time by the caller); ok is false for an unknown key.
	ProjectForKey func(key string) (project string, ok bool)
	// ParseQuery reads the trace list filters exactly as the API does, so a
	// page URL and an API URL filter alike; its error is shown to the user.
	ParseQuery func(url.Values) (store.TraceQuery, error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Playground replays conversations from the conversation page; nil
	// shows how to configure it.
	Playground Playground
}

// Explorer is the set of page handlers.
type Explorer struct {
	opts      Options
	pages     map[string]*template.Template
	assets    http.Handler
	assetHash string
	// writes guards the explorer's own posts (sign-in, sign-out,
	// playground runs) against requests from other sites.
	writes *http.CrossOriginProtection
}

// New parses the embedded templates; an error is a bug in them.
func New(opts Options) (*Explorer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	e := &Explorer{opts: opts, pages: map[string]*template.Template{}, writes: http.NewCrossOriginProtection()}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	e.assetHash, err = hashFS(sub)
	if err != nil {
		return nil, err
	}
	e.assets = http.StripPrefix(AssetPrefix+"assets/", http.FileServerFS(sub))
	for _, page := range []string{"list", "trace", "conversation", "session", "usage", "login", "error"} {
		t := template.New("layout.html").Funcs(e.funcs())
		t, err = t.ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		e.pages[page] = t
	}
	return e, nil
}

// hashFS fingerprints the assets, so their URLs change when they do and
// browsers may keep them for good.
func hashFS(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)[:6]), err
}

// Register adds the pages to mux. The patterns are public URLs: keep them.
func (e *Explorer) Register(mux *http.ServeMux) {
	mux.Handle("GET /{$}", e.page(e.list))
	mux.Handle("GET /traces/{trace_id}", e.page(e.trace))
	mux.Handle("GET /traces/{trace_id}/conversation", e.page(e.conversation))
	mux.Handle("GET /traces/{trace_id}/spans/{span_id}", http.HandlerFunc(e.detailFragment))
	mux.Handle("GET /traces/{trace_id}/tree", http.HandlerFunc(e.treeFragment))
	mux.Handle("GET /sessions/{session_id}", e.page(e.session))
	mux.Handle("GET /usage", e.page(e.usage))
	mux.Handle("GET "+AssetPrefix+"assets/", http.HandlerFunc(e.serveAsset))
	mux.Handle("POST "+AssetPrefix+"login", e.writes.Handler(http.HandlerFunc(e.login)))
	mux.Handle("POST "+AssetPrefix+"logout", e.writes.Handler(http.HandlerFunc(e.logout)))
	mux.Handle("GET "+AssetPrefix+"login", http.HandlerFunc(e.loginPage))
	mux.Handle("POST "+RunPath, e.writes.Handler(http.HandlerFunc(e.run)))
}

func (e *Explorer) serveAsset(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	if r.URL.Query().Get("v") == e.assetHash {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	e.assets.ServeHTTP(w, r)
}

// pageFunc renders one page for a signed-in project into v; status 0 is 200.
type pageFunc func(r *http.Request, project string) (name string, v any, err error)

// httpError is an error page for a client's mistake.
type httpError struct {
	status int
	title  string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func notFound(what string) error {
	return &httpError{status: http.StatusNotFound, title: what + " not found",
		msg: "There is no such " + strings.ToLower(what) + " in this project. It may have been deleted, or it belongs to another project."}
}

// page resolves the project, renders the page and answers errors with an
// error page: 4xx for a client's mistake, 500 (logged) for a store failure.
func (e *Explorer) page(f pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		project, ok := e.project(r)
		if !ok {
			e.render(w, r, http.StatusUnauthorized, "login", loginView{Next: r.URL.RequestURI()})
			return
		}
		name, v, err := f(r, project)
		var pe *pageError
		if errors.As(err, &pe) {
			e.render(w, r, pe.status, name, pe.view)
			return
		}
		if err != nil {
			e.renderError(w, r, err)
			return
		}
		e.render(w, r, http.StatusOK, name, v)
	})
}

func (e *Explorer) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, store.ErrNotFound):
		he = notFound("Trace").(*httpError)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return
	case errors.Is(err, store.ErrUnavailable):
		e.opts.Logger.Warn("Explorer page: the trace store is unavailable", zap.String("route", r.Pattern), zap.Error(err))
		w.Header().Set("Retry-After", "2")
		he = &httpError{status: http.StatusServiceUnavailable, title: "The trace store is unavailable",
			msg: "The database behind the trace store cannot be reached right now. Reload in a few seconds."}
	default:
		e.opts.Logger.Error("Explorer page failed", zap.String("route", r.Pattern), zap.Error(err))
		he = &httpError{status: http.StatusInternalServerError, title: "The trace store failed",
			msg: "The page could not be read from the trace store. Try again; the collector's log has the cause."}
	}
	e.render(w, r, he.status, "error", errorView{Status: he.status, Title: he.title, Message: he.msg})
}

// render executes a page into a buffer first, so a template failure is a
// clean 500 rather than half a page.
func (e *Explorer) render(w http.ResponseWriter, r *http.Request, status int, name string, v any) {
	data := layoutData{View: v, Assets: e.assetHash, SignedIn: e.opts.KeysRequired && status != http.StatusUnauthorized,
		Path: r.URL.Path}
	e.write(w, r, status, name, func(buf *bytes.Buffer) error { return e.pages[name].Execute(buf, data) })
}

// renderFragment writes one template of the trace page alone.
func (e *Explorer) renderFragment(w http.ResponseWriter, r *http.Request, name string, v any) {
	e.write(w, r, http.StatusOK, name, func(buf *bytes.Buffer) error { return e.pages["trace"].ExecuteTemplate(buf, name, v) })
}

func (e *Explorer) write(w http.ResponseWriter, r *http.Request, status int, name string, execute func(*bytes.Buffer) error) {
	var buf bytes.Buffer
	if err := execute(&buf); err != nil {
		e.opts.Logger.Error("Explorer page failed to render", zap.String("template", name), zap.Error(err))
		http.Error(w, "the page failed to render", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	// HTML of tables and trees compresses about sixfold: worth it for a
	// receiver reached over a network, cheap on loopback.
	if buf.Len() >= gzipMin && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		w.WriteHeader(status)
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(w)
		_, _ = zw.Write(buf.Bytes())
		_ = zw.Close()
		gzipWriters.Put(zw)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// gzipMin is the smallest page worth compressing.
const gzipMin = 1400

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return zw
}}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

// fragmentProject is page's sign-in check for the fragments the script
// fetches: a bare 401, as the script then loads the whole page.
func (e *Explorer) fragmentProject(w http.ResponseWriter, r *http.Request) (string, bool) {
	setSecurityHeaders(w)
	project, ok := e.project(r)
	if !ok {
		http.Error(w, "sign in first", http.StatusUnauthorized)
	}
	return project, ok
}

// layoutData is what every page's frame reads.
type layoutData struct {
	View     any
	Assets   string
	SignedIn bool
	Path     string
}

// setSecurityHeaders keeps pages out of frames and scripts to our own: all
// stored strings are escaped by html/template, and the policy stops an
// escaping bug from running anything. Inline style attributes are allowed
// for the waterfall's bar positions.
func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// project returns the signed-in project: the anonymous receiver's default
// project, or the project of the key in the cookie (or an Authorization
// header, for scripts).
func (e *Explorer) project(r *http.Request) (string, bool) {
	if !e.opts.KeysRequired {
		return store.DefaultProject, true
	}
	key, _ := opperapi.BearerToken(r.Header.Get("Authorization"))
	if c, err := r.Cookie(CookieName); err == nil {
		key = c.Value
	}
	if key == "" {
		return "", false
	}
	return e.opts.ProjectForKey(key)
}

type loginView struct {
	Next  string
	Error string
}

func (e *Explorer) loginPage(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	if !e.opts.KeysRequired {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	e.render(w, r, http.StatusUnauthorized, "login", loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks the key and keeps it in an HttpOnly, SameSite=Strict cookie:
// scripts cannot read it and no other site's request carries it.
func (e *Explorer) login(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	if !e.opts.KeysRequired {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		e.render(w, r, http.StatusBadRequest, "login", loginView{Error: "The form could not be read."})
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if _, ok := e.opts.ProjectForKey(key); !ok || key == "" {
		// No detail: which part was wrong is nobody's business.
		e.render(w, r, http.StatusUnauthorized, "login", loginView{Next: next, Error: "That API key is not valid here."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: key, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 30 * 24 * 3600})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (e *Explorer) logout(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// safeNext keeps a redirect after sign-in on this site: a path, never a
// scheme-relative or absolute URL.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

// ErrorPage writes the explorer's 404 page for a person who asked for a
// path that does not exist; the receiver calls it for browsers.
func (e *Explorer) ErrorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	setSecurityHeaders(w)
	e.render(w, r, status, "error", errorView{Status: status, Title: title, Message: msg})
}

type errorView struct {
	Status  int
	Title   string
	Message string
}
