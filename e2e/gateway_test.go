//go:build unix

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opperotel/bridge/internal/pgtest"
	"github.com/opperotel/bridge/opperapi"
)

// The shipped gateway configs (single node, disk queue, PostgreSQL) through a downstream outage and
// a kill -9: the receiver's outbox lets go of a span once the pipeline
// returns, so every next hop a shipped config uses must only return once
// the span is safe (the downstream accepted it, or it is on disk). Every
// span the Opper API acknowledged must reach the downstream after the
// restart; duplicates are allowed (at least once) and logged.
//
// E2E_GATEWAY_CONFIGS (comma-separated config paths) runs the same test
// against other configs, e.g. an older gateway.yaml:
//
//	git show <rev>:config/gateway.yaml >/tmp/gateway-old.yaml
//	E2E_GATEWAY_CONFIGS=/tmp/gateway-old.yaml go test -count=1 -run TestE2EGateway$ ./e2e/ -v

// gatewaySpans is how many spans the test writes during the outage.
const gatewaySpans = 5000

// flakyDownstream is an OTLP/HTTP traces endpoint that records what it
// accepts (an otlpSink) and answers 503 while down.
type flakyDownstream struct {
	sink    *otlpSink
	down    atomic.Bool
	refused atomic.Int64 // requests answered 503
}

func newFlakyDownstream(t *testing.T) *flakyDownstream {
	d := &flakyDownstream{sink: &otlpSink{}}
	d.sink.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.down.Load() {
			d.refused.Add(1)
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, "downstream outage (test)", http.StatusServiceUnavailable)
			return
		}
		d.sink.serve(w, r)
	}))
	t.Cleanup(d.sink.srv.Close)
	return d
}

func TestE2EGateway(t *testing.T) {
	requireCollector(t)
	t.Parallel()
	configs := []string{
		filepath.Join(repoRoot, "config", "gateway.yaml"),
		filepath.Join(repoRoot, "config", "gateway-disk-queue.yaml"),
		filepath.Join(repoRoot, "config", "gateway-ha.yaml"),
	}
	if v := os.Getenv("E2E_GATEWAY_CONFIGS"); v != "" {
		configs = strings.Split(v, ",")
	}
	for _, cfg := range configs {
		t.Run(strings.TrimSuffix(filepath.Base(cfg), ".yaml"), func(t *testing.T) {
			t.Parallel()
			testGatewayOutageKill(t, cfg)
		})
	}
}

func testGatewayOutageKill(t *testing.T, config string) {
	down := newFlakyDownstream(t)
	down.down.Store(true)
	key := "gw-" + uuid.NewString()
	env := []string{"OPPER_GATEWAY_KEY=" + key, "OTLP_ENDPOINT=" + down.sink.srv.URL}
	var extra []string
	if strings.Contains(readFile(t, config), "${env:OPPER_PG_DSN}") {
		// A PostgreSQL gateway: a new database on the tests' server,
		// which outlives the collector's kill -9 as a database server does.
		dsn := pgtest.NewDSN(t)
		env = append(env, "OPPER_PG_DSN="+dsn)
		// The killed process's outbox leases run out sooner; the
		// restarted one is another owner and waits for them.
		extra = append(extra, "--set=extensions.opper_storage.postgres.outbox_lease=5s")
	}
	opperAddr, health := freeAddr(t), freeAddr(t)
	base := "http://" + opperAddr
	// Only ports and retry intervals move: the next hop (queue, batching,
	// processors) is the config's own.
	c := startCollector(t, "gateway-"+strings.TrimSuffix(filepath.Base(config), ".yaml"), health,
		env, append([]string{
			"--config=" + config,
			"--set=receivers.opper.endpoint=" + opperAddr,
			"--set=extensions.health_check.endpoint=" + health,
			"--set=service.telemetry.metrics.level=none",
			"--set=receivers.opper.forward.poll_interval=500ms",
			"--set=receivers.opper.forward.retry_initial_interval=200ms",
			"--set=receivers.opper.forward.retry_max_interval=1s",
			"--set=exporters.otlp_http.retry_on_failure.initial_interval=200ms",
			"--set=exporters.otlp_http.retry_on_failure.max_interval=1s",
		}, extra...)...)

	// The downstream is down while the spans are written.
	acked := writeGatewaySpans(t, base, key, gatewaySpans)
	eventually(t, 30*time.Second, 50*time.Millisecond, "the next hop trying the downstream", func() (bool, string) {
		return down.refused.Load() > 0, "no request at the downstream yet"
	})
	// A few seconds for the forwarder to hand on whatever the next hop
	// takes, and for the exporter to retry.
	time.Sleep(3 * time.Second)
	if _, n, _ := down.sink.received(); n != 0 {
		t.Fatalf("the downstream accepted %d spans while it was down", n)
	}
	refusedBefore := down.refused.Load()
	c.kill()

	// Restarted in the same working directory (./data persists), still
	// in the outage for a moment, then the downstream comes back.
	c.start()
	time.Sleep(time.Second)
	down.down.Store(false)
	back := time.Now()
	t.Logf("%d spans acknowledged; %d requests refused (503) before the kill -9, %d in all", len(acked), refusedBefore, down.refused.Load())

	// Every acknowledged span eventually, or a stall: nothing new for 15 s.
	const limit, stall = 45 * time.Second, 15 * time.Second
	lastProgress, lastTotal := time.Now(), -1
	var missing, dups, total int
	for {
		got, n, errs := down.sink.received()
		if len(errs) > 0 {
			t.Fatalf("the downstream could not decode requests: %v", errs)
		}
		missing, dups, total = 0, 0, n
		for _, id := range acked {
			switch len(got[id]) {
			case 0:
				missing++
			case 1:
			default:
				dups++
			}
		}
		if missing == 0 {
			t.Logf("all %d acknowledged spans at the downstream %s after it came back", len(acked), time.Since(back).Round(time.Millisecond))
			break
		}
		if n != lastTotal {
			lastProgress, lastTotal = time.Now(), n
		}
		if time.Since(back) > limit || time.Since(lastProgress) > stall {
			t.Errorf("LOST: %d of %d acknowledged spans never reached the downstream (%d spans arrived, nothing new for %s)",
				missing, len(acked), n, time.Since(lastProgress).Round(time.Second))
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Give a late second copy, if any, time to arrive before counting.
	if missing == 0 {
		time.Sleep(2 * time.Second)
		got, n, _ := down.sink.received()
		dups, total = 0, n
		for _, id := range acked {
			if len(got[id]) > 1 {
				dups++
			}
		}
	}
	t.Logf("delivered %d of %d acknowledged spans; %d spans received in all, %d acknowledged spans more than once (at least once)",
		len(acked)-missing, len(acked), total, dups)
	// Where the restarted collector found the spans (for the reader of -v).
	for _, line := range restartLog(t, c, "Loaded queue metadata", "Fetching items left for dispatch", "Forwarding to the next consumer failed") {
		t.Logf("after the restart: %s", line)
	}
}

// logNoise is what every component's log line carries.
var logNoise = regexp.MustCompile(`"resource": \{[^}]*\}, |"otelcol\.[a-z.]+": "[^"]*", `)

// restartLog returns the lines of the collector's latest run that contain
// one of subs, cut to their message.
func restartLog(t *testing.T, c *collector, subs ...string) []string {
	t.Helper()
	data, err := os.ReadFile(c.log)
	if err != nil {
		t.Logf("no log: %v", err)
		return nil
	}
	text := string(data)
	if i := strings.LastIndex(text, "==== run "); i >= 0 {
		text = text[i:]
	}
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				line = line[strings.Index(line, sub):]
				line = logNoise.ReplaceAllString(line, "")
				out = append(out, line[:min(len(line), 300)])
				break
			}
		}
	}
	return out
}

// writeGatewaySpans writes n complete spans (traces of 10) through POST
// /v2/spans/batch, 100 a request, and returns the ids the API acknowledged.
func writeGatewaySpans(t *testing.T, base, key string, n int) []string {
	t.Helper()
	const perTrace, perRequest = 10, 100
	var acked []string
	start := time.Now().Add(-time.Minute).UTC()
	for written := 0; written < n; {
		var batch []map[string]any
		var ids []string
		for len(batch) < perRequest && written < n {
			tid := uuid.NewString()
			var root string
			for i := 0; i < perTrace && written < n; i++ {
				id := uuid.NewString()
				sp := map[string]any{"id": id, "trace_id": tid, "name": fmt.Sprintf("gateway span %d", written),
					"start_time": start, "end_time": start.Add(time.Duration(i+1) * time.Millisecond),
					"input": "question", "output": "answer"}
				if i == 0 {
					root = id
				} else {
					sp["parent_id"] = root
				}
				batch = append(batch, sp)
				ids = append(ids, id)
				written++
			}
		}
		body, err := json.Marshal(batch)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, base+"/v2/spans/batch", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("POST /v2/spans/batch: %v", err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v2/spans/batch: %d %.500s", resp.StatusCode, data)
		}
		var out opperapi.BatchResponse
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("POST /v2/spans/batch: %v: %.500s", err, data)
		}
		if len(out.Results) != len(ids) {
			t.Fatalf("POST /v2/spans/batch: %d results for %d spans", len(out.Results), len(ids))
		}
		for i, r := range out.Results {
			if r.Status != http.StatusOK {
				t.Fatalf("POST /v2/spans/batch: item %d: %+v", i, r)
			}
			acked = append(acked, ids[i])
		}
	}
	return acked
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
