package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"errors"
	"mime"
	"net"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/config/confignet"
)

// hostGuard refuses requests to an anonymous receiver whose Host header is
// not one of its own names. Without it, any web page the user opens could
// point a name of its own at 127.0.0.1 (DNS rebinding) and read the traces
// with the browser's help: the browser thinks it talks to that page's site.
type hostGuard struct {
	// off when the receiver has keys (a rebound page has none), listens on
	// a unix socket, or on every interface with no names configured (the
	// operator accepted anonymous access from the network).
	off   bool
	names map[string]bool
}

func newHostGuard(cfg *Config) hostGuard {
	g := hostGuard{names: map[string]bool{"localhost": true}}
	if len(cfg.APIKeys) > 0 || cfg.ServerConfig.NetAddr.Transport == confignet.TransportTypeUnix {
		g.off = true
		return g
	}
	host, _, err := net.SplitHostPort(cfg.ServerConfig.NetAddr.Endpoint)
	if err == nil && host != "" {
		if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && ip.IsUnspecified() {
			host = ""
		}
	}
	if err != nil || host == "" {
		if len(cfg.AllowedHosts) == 0 {
			g.off = true
		}
	} else {
		g.names[strings.ToLower(strings.Trim(host, "[]"))] = true
	}
	for _, h := range cfg.AllowedHosts {
		g.names[strings.ToLower(strings.Trim(strings.TrimSpace(h), "[]"))] = true
	}
	return g
}

// allowed checks a Host header: loopback IPs, localhost and *.localhost
// (which resolve to loopback by definition, RFC 6761), and the configured
// names. The port is not compared: the listener already chose it.
func (g hostGuard) allowed(hostport string) bool {
	if g.off {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if g.names[host] || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateHostName checks an allowed_hosts entry: a name or IP, without
// scheme, port or path.
func validateHostName(h string) error {
	switch {
	case strings.TrimSpace(h) == "":
		return errors.New("must not be empty")
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/ "):
		return errors.New("must be a host name or IP address, without scheme or path, e.g. opper.internal")
	}
	if _, _, err := net.SplitHostPort(h); err == nil && !strings.HasPrefix(h, "[") && strings.Count(h, ":") == 1 {
		return errors.New("must be a host name or IP address without a port, e.g. opper.internal")
	}
	return nil
}

// isAPIWrite reports whether r writes through the Opper API: such requests
// must say they carry JSON. Browsers send text/plain, form and multipart
// bodies to any site without asking it first; JSON takes a CORS preflight
// the receiver never grants, so no other site's page can write here.
func isAPIWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return false
	}
	return r.ContentLength != 0 && (strings.HasPrefix(r.URL.Path, "/v2/") || strings.HasPrefix(r.URL.Path, "/v3/"))
}

// isJSONType accepts application/json and any +json type, with parameters.
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
