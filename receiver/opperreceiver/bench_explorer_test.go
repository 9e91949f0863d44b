package opperreceiver

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/internal/benchdata"
	"github.com/opperotel/bridge/store/sqlite"
	"github.com/opperotel/bridge/translator"
)

// The explorer's pages over a SQLite store of 1,000,000 spans (20,000
// traces of 50), built once per run of the benchmark in its temporary
// directory (about 20 s):
//
//	go test -run '^$' -bench BenchmarkExplorer -benchtime 400x ./receiver/opperreceiver
//
// Each reports the p50 and p99 of the whole HTTP exchange, and the page's
// weight on the wire, gzip-compressed as browsers ask (the HTML; the assets
// are cached after the first page).

const explorerBenchSpans = 1_000_000

// explorerBenchStore builds the store in the benchmark's temporary directory.
func explorerBenchStore(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "opper.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	require.NoError(b, err)
	began := time.Now()
	traces := explorerBenchSpans / benchdata.SpansPerTrace
	buf := make([]translator.Span, 0, 5000)
	for n := 0; n < traces; {
		buf = buf[:0]
		for ; len(buf) < 5000 && n < traces; n++ {
			buf = benchdata.Trace(n, benchdata.TraceStart(n), buf)
		}
		require.NoError(b, s.UpsertSpans(ctx, DefaultProject, buf, false))
	}
	require.NoError(b, s.Close())
	b.Logf("built %d spans in %v", explorerBenchSpans, time.Since(began).Round(time.Second))
	return path
}

// BenchmarkExplorer serves the trace list (first page, 50 traces) and the
// trace view of random 50-span traces.
func BenchmarkExplorer(b *testing.B) {
	path := explorerBenchStore(b)
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	a, err := newAPI(createDefaultConfig().(*Config), st, zap.NewNop(), nil)
	require.NoError(b, err)
	srv := httptest.NewServer(a)
	b.Cleanup(srv.Close)
	c := benchClient()
	traces := explorerBenchSpans / benchdata.SpansPerTrace
	rng := rand.New(rand.NewPCG(3, 4))

	pages := []struct {
		name string
		url  func() string
	}{
		{"list", func() string { return srv.URL + "/" }},
		{"list/status=error", func() string { return srv.URL + "/?status=error" }},
		{"list/name", func() string {
			return srv.URL + "/?name=" + url.QueryEscape(benchdata.Workflows[rng.IntN(len(benchdata.Workflows))][:6])
		}},
		{"list/model", func() string { return srv.URL + "/?model=" + benchdata.Models[rng.IntN(len(benchdata.Models))] }},
		{"list/user", func() string { return srv.URL + "/?user=user-" + strconv.Itoa(rng.IntN(5000)) }},
		{"list/session", func() string { return srv.URL + "/?session=session-" + strconv.Itoa(rng.IntN(traces/10)) }},
		{"session", func() string { return srv.URL + "/sessions/session-" + strconv.Itoa(rng.IntN(traces/10)) }},
		{"usage", func() string { return srv.URL + "/usage" }},
		{"usage/last-hour", func() string {
			return srv.URL + "/usage?from=" + url.QueryEscape(benchdata.TraceStart(traces).Add(-time.Hour).Format(time.RFC3339))
		}},
		{"trace", func() string { return srv.URL + "/traces/" + benchdata.TraceID(rng.IntN(traces)) }},
		{"conversation", func() string { return srv.URL + "/traces/" + benchdata.TraceID(rng.IntN(traces)) + "/conversation" }},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var bytes int64
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t := time.Now()
				n, err := getPageBytes(c, p.url())
				if err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t))
				bytes += n
			}
			slices.Sort(times)
			q := func(f float64) float64 { return float64(times[int(float64(len(times)-1)*f)]) / 1e6 }
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(bytes)/float64(len(times))/1024, "KB/page")
		})
	}
	b.Run("assets", func(b *testing.B) {
		html, err := getBody(c, srv.URL+"/")
		require.NoError(b, err)
		var total int64
		for b.Loop() {
			total = 0
			for _, m := range regexp.MustCompile(`(?:href|src)="(/explorer/assets/[^"]+)"`).FindAllStringSubmatch(html, -1) {
				n, err := getPageBytes(c, srv.URL+m[1])
				if err != nil {
					b.Fatal(err)
				}
				total += n
			}
		}
		b.ReportMetric(float64(total)/1024, "KB-cold")
	})
}

// getPageBytes fetches a page as a browser does, compressed, and counts
// the bytes that cross the wire.
func getPageBytes(c *http.Client, url string) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	// Set by hand, the transport leaves the body compressed.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return n, err
}

func getBody(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
