//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/pgtest"
	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// Replicas of config/gateway-ha.yaml (two collector processes) on one
// PostgreSQL database, started by the test (internal/pgtest), forwarding
// to an OTLP sink of the test.

// haReplica is one collector of a cluster.
type haReplica struct {
	c    *collector
	base string // the opper receiver, http://host:port
	otlp string // the overlay's OTLP/HTTP receiver, host:port
}

type haCluster struct {
	key      string
	sink     *otlpSink
	replicas []*haReplica
}

// startHA starts n replicas of config/gateway-ha.yaml on the database dsn,
// each with an overlay that adds an OTLP receiver whose spans the opper
// exporter writes straight into the shared store (storage mode, never
// forwarded: the loop guard). extra are more --set flags for every replica.
func startHA(t *testing.T, dsn string, sink *otlpSink, n int, extra ...string) *haCluster {
	t.Helper()
	cl := &haCluster{key: "ha-" + uuid.NewString(), sink: sink}
	var wg sync.WaitGroup
	cl.replicas = make([]*haReplica, n)
	for i := range n {
		r := &haReplica{otlp: freeAddr(t)}
		opperAddr, health := freeAddr(t), freeAddr(t)
		r.base = "http://" + opperAddr
		overlay := filepath.Join(t.TempDir(), "otlp-in.yaml")
		writeFile(t, overlay, `# e2e overlay on config/gateway-ha.yaml: OTLP in -> opper exporter -> the shared store
receivers:
  otlp:
    protocols:
      http:
        endpoint: `+r.otlp+`
exporters:
  opper:
    storage: opper_storage
    retention: full
service:
  pipelines:
    traces/otlp-to-store:
      receivers: [otlp]
      exporters: [opper]
`)
		args := append([]string{
			"--config=" + filepath.Join(repoRoot, "config", "gateway-ha.yaml"),
			"--config=" + overlay,
			"--set=receivers.opper.endpoint=" + opperAddr,
			"--set=extensions.health_check.endpoint=" + health,
			"--set=service.telemetry.metrics.level=none",
		}, extra...)
		env := []string{"OPPER_PG_DSN=" + dsn, "OPPER_GATEWAY_KEY=" + cl.key, "OTLP_ENDPOINT=" + sink.srv.URL}
		// Both at once: the first migrates the new database, the other
		// waits for it on the advisory lock.
		wg.Go(func() { r.c = startCollector(t, fmt.Sprintf("replica-%c", 'a'+i), health, env, args...) })
		cl.replicas[i] = r
	}
	wg.Wait()
	return cl
}

// sendJSON sends body as JSON with the cluster's key and decodes a 2xx
// answer into out (when not nil); it returns the status and body.
func (cl *haCluster) sendJSON(t *testing.T, method, url string, body, out any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cl.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, data)
		}
	}
	return resp.StatusCode, data
}

// roundRobin is a load balancer of the test: each request goes to the
// next replica.
func roundRobin(t *testing.T, replicas []*haReplica) string {
	var next atomic.Uint64
	proxies := make([]*httputil.ReverseProxy, len(replicas))
	for i, r := range replicas {
		u, err := url.Parse(r.base)
		if err != nil {
			t.Fatal(err)
		}
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
	}
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[next.Add(1)%uint64(len(proxies))].ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	return lb.URL
}

// TestE2EGatewayHA: two replicas of config/gateway-ha.yaml on one database
// serve one trace tree. A v3 span created on one is finished on the other;
// the real Opper SDK's v2 flow passes through a round-robin load balancer;
// the shared fixtures, each trace's spans split between the replicas, read
// back whole from either; and every span the SDKs wrote leaves the cluster
// once.
func TestE2EGatewayHA(t *testing.T) {
	requireCollector(t)
	t.Parallel()
	dsn := pgtest.NewDSN(t)
	sink := newOTLPSink(t)
	cl := startHA(t, dsn, sink, 2)
	a, b := cl.replicas[0], cl.replicas[1]
	apiSpans := map[string]bool{} // span ids written through the API, completed

	t.Run("v3 POST on one replica, PATCH on the other", func(t *testing.T) {
		start := time.Now().Add(-time.Second).UTC()
		var created opperapi.Envelope[opperapi.SpanV3]
		status, body := cl.sendJSON(t, "POST", a.base+"/v3/spans", map[string]any{
			"name": "ha agent", "type": "agent", "start_time": start, "input": "question"}, &created)
		if status != 200 {
			t.Fatalf("POST /v3/spans on a: %d %s", status, body)
		}
		id := created.Data.ID
		status, body = cl.sendJSON(t, "PATCH", b.base+"/v3/spans/"+id, map[string]any{
			"end_time": time.Now().UTC(), "output": "answer"}, nil)
		if status != 200 {
			t.Fatalf("PATCH /v3/spans/%s on b: %d %s", id, status, body)
		}
		// Two replicas patch one span at once: neither loses a field.
		var wg sync.WaitGroup
		for i, r := range []*haReplica{a, b} {
			wg.Go(func() {
				if status, body := cl.sendJSON(t, "PATCH", r.base+"/v2/spans/"+id, map[string]any{
					"meta": map[string]any{fmt.Sprintf("from_%d", i): true}}, nil); status != 200 {
					t.Errorf("PATCH /v2/spans on replica %d: %d %s", i, status, body)
				}
			})
		}
		wg.Wait()
		for _, r := range []*haReplica{a, b} {
			var got opperapi.Envelope[opperapi.SpanV3]
			if status, body := cl.sendJSON(t, "GET", r.base+"/v3/spans/"+id, nil, &got); status != 200 {
				t.Fatalf("GET /v3/spans/%s: %d %s", id, status, body)
			}
			if string(got.Data.Output) != `"answer"` || got.Data.EndTime == nil {
				t.Errorf("%s: span %s lacks the other replica's PATCH: %+v", r.base, id, got.Data)
			}
			var v2 struct {
				Meta map[string]any `json:"meta"`
			}
			cl.sendJSON(t, "GET", r.base+"/v2/spans/"+id, nil, &v2)
			if v2.Meta["from_0"] != true || v2.Meta["from_1"] != true {
				t.Errorf("%s: concurrent PATCHes lost a field: meta %v", r.base, v2.Meta)
			}
		}
		apiSpans[id] = true
	})

	sdkRan := false
	t.Run("the Opper SDK through a round-robin load balancer", func(t *testing.T) {
		node := requireNodeSDK(t)
		sdkRan = true
		lb := roundRobin(t, cl.replicas)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "v2-flow.mjs")
		cmd.Dir = filepath.Join(repoRoot, "testdata", "sdk")
		cmd.Env = append(os.Environ(), "OPPER_RECEIVER_URL="+lb, "OPPER_API_KEY="+cl.key)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("node v2-flow.mjs through the load balancer: %v\n%s", err, out)
		}
	})

	t.Run("fixtures split between the replicas read back whole from either", func(t *testing.T) {
		fixtures := loadFixtures(t)
		for _, f := range fixtures {
			halves := splitTraces(f.td)
			for i, td := range halves {
				raw, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
				if err != nil {
					t.Fatal(err)
				}
				postOTLPJSON(t, cl.replicas[i].otlp, raw)
			}
		}
		want, order := translateFixtures(t, fixtures, translator.RetentionFull)
		for _, r := range cl.replicas {
			for _, tid := range order {
				e := want[tid]
				var tr opperapi.Trace
				eventually(t, 30*time.Second, 100*time.Millisecond, r.base+" trace "+tid, func() (bool, string) {
					status, body := cl.sendJSON(t, "GET", r.base+"/v2/traces/"+tid, nil, &tr)
					if status != 200 {
						return false, fmt.Sprintf("%d %.300s", status, body)
					}
					return len(tr.Spans) == len(e.spans), fmt.Sprintf("%d of %d spans (%s)", len(tr.Spans), len(e.spans), e.fixture)
				})
			}
		}
	})

	t.Run("every span written through the API leaves the cluster once", func(t *testing.T) {
		var ids []string
		eventually(t, 30*time.Second, 200*time.Millisecond, "the SDK spans at the sink", func() (bool, string) {
			got, _, errs := sink.received()
			if len(errs) > 0 {
				return false, fmt.Sprint(errs)
			}
			ids = ids[:0]
			for id := range apiSpans {
				if len(got[id]) == 0 {
					return false, "span " + id + " not forwarded"
				}
			}
			for id := range got {
				ids = append(ids, id)
			}
			// The SDK's spans come on top of the API's, when its subtest ran
			// (it skips without testdata/sdk's packages, outside CI).
			return len(got) > len(apiSpans) || !sdkRan && len(got) == len(apiSpans), fmt.Sprintf("%d span ids", len(got))
		})
		// Forwarding is asynchronous: give a second forward, if any, time.
		time.Sleep(2 * time.Second)
		got, total, _ := sink.received()
		for id, spans := range got {
			// A span written again while its forward was in flight (the
			// PATCHes above) is forwarded again, as its newer version; the
			// same version twice is a duplicate.
			for i := range spans {
				for j := i + 1; j < len(spans); j++ {
					if sameSpanVersion(spans[i], spans[j]) {
						t.Errorf("span %s forwarded twice as the same version (%d forwards)", id, len(spans))
					}
				}
			}
		}
		t.Logf("%d spans forwarded, %d distinct", total, len(got))
	})
}

// sameSpanVersion reports whether two forwards of a span carry the same
// version of it: the same end, status and attributes.
func sameSpanVersion(a, b ptrace.Span) bool {
	return a.EndTimestamp() == b.EndTimestamp() && a.Status().Code() == b.Status().Code() &&
		reflect.DeepEqual(a.Attributes().AsRaw(), b.Attributes().AsRaw())
}

// splitTraces splits td into two, alternating spans, so the spans of one
// trace go to different replicas.
func splitTraces(td ptrace.Traces) [2]ptrace.Traces {
	out := [2]ptrace.Traces{ptrace.NewTraces(), ptrace.NewTraces()}
	n := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				dst := out[n%2]
				n++
				rs := dst.ResourceSpans().AppendEmpty()
				rss.At(i).Resource().CopyTo(rs.Resource())
				ss := rs.ScopeSpans().AppendEmpty()
				sss.At(j).Scope().CopyTo(ss.Scope())
				spans.At(k).CopyTo(ss.Spans().AppendEmpty())
			}
		}
	}
	return out
}

// batchWriter writes traces of spansPer spans through POST /v2/spans/batch,
// round-robin over the replicas, retrying a 503 after its Retry-After (as
// the SDKs do), and records what was acknowledged.
type batchWriter struct {
	cl       *haCluster
	spansPer int

	mu        sync.Mutex
	acked     []string // span ids
	ackTraces map[string]int
	status503 int
	retryHdr  int // 503 answers with a Retry-After
	failures  []string
}

func (w *batchWriter) run(ctx context.Context, worker int) {
	for n := 0; ctx.Err() == nil; n++ {
		tid := uuid.NewString()
		start := time.Now().Add(-time.Second).UTC()
		var batch []map[string]any
		var ids []string
		for i := range w.spansPer {
			id := uuid.NewString()
			sp := map[string]any{"id": id, "trace_id": tid, "name": fmt.Sprintf("w%d-%d-%d", worker, n, i),
				"start_time": start, "end_time": start.Add(500 * time.Millisecond), "input": "q", "output": "a"}
			if i > 0 {
				sp["parent_id"] = ids[0]
			}
			batch = append(batch, sp)
			ids = append(ids, id)
		}
		body, _ := json.Marshal(batch)
		replica := w.cl.replicas[(worker+n)%len(w.cl.replicas)]
		for ctx.Err() == nil {
			req, _ := http.NewRequest("POST", replica.base+"/v2/spans/batch", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+w.cl.key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := httpClient.Do(req)
			if err != nil {
				// The replica was killed, or is restarting: another one.
				replica = w.cl.replicas[(worker+n+1)%len(w.cl.replicas)]
				time.Sleep(100 * time.Millisecond)
				continue
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				w.mu.Lock()
				w.acked = append(w.acked, ids...)
				w.ackTraces[tid] = len(ids)
				w.mu.Unlock()
				break
			}
			if resp.StatusCode == http.StatusServiceUnavailable {
				wait := time.Second
				w.mu.Lock()
				w.status503++
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
					w.retryHdr++
					wait = time.Duration(s) * time.Second
				}
				w.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				continue
			}
			w.mu.Lock()
			w.failures = append(w.failures, fmt.Sprintf("%d %.200s", resp.StatusCode, data))
			w.mu.Unlock()
			return
		}
	}
}

// startWriters runs workers batch writers until the returned stop is
// called.
func startWriters(cl *haCluster, workers, spansPer int) (*batchWriter, func()) {
	w := &batchWriter{cl: cl, spansPer: spansPer, ackTraces: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { w.run(ctx, i) })
	}
	return w, func() { cancel(); wg.Wait() }
}

// requireAllForwarded waits until the sink has every acknowledged span and
// returns how many arrived more than once.
func requireAllForwarded(t *testing.T, sink *otlpSink, acked []string, limit time.Duration) int {
	t.Helper()
	eventually(t, limit, 250*time.Millisecond, fmt.Sprintf("all %d acknowledged spans at the sink", len(acked)), func() (bool, string) {
		got, _, errs := sink.received()
		if len(errs) > 0 {
			return false, fmt.Sprint(errs)
		}
		missing := 0
		for _, id := range acked {
			if len(got[id]) == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d missing", missing)
	})
	got, _, _ := sink.received()
	dups := 0
	for _, id := range acked {
		if len(got[id]) > 1 {
			dups++
		}
	}
	return dups
}

// TestE2EGatewayHAKill: a replica killed (kill -9) while forwarding leaves
// its outbox lease to the other, which forwards what it had taken once the
// lease ran out: every acknowledged span reaches the sink; a span reaches
// it twice only if the dead replica had handed it on without recording it
// (at most its one batch in flight).
func TestE2EGatewayHAKill(t *testing.T) {
	requireCollector(t)
	t.Parallel()
	dsn := pgtest.NewDSN(t)
	sink := newOTLPSink(t)
	// A slow downstream: forwards are in flight when the replica dies.
	sink.delay.Store(int64(150 * time.Millisecond))
	const batch = 100
	cl := startHA(t, dsn, sink, 2,
		"--set=extensions.opper_storage.postgres.outbox_lease=3s",
		"--set=receivers.opper.forward.batch_size="+strconv.Itoa(batch),
		"--set=receivers.opper.forward.poll_interval=500ms")
	w, stop := startWriters(cl, 4, 20)
	eventually(t, 60*time.Second, 50*time.Millisecond, "forwarding under way", func() (bool, string) {
		_, n, _ := sink.received()
		return n >= 500, fmt.Sprintf("%d spans at the sink", n)
	})
	cl.replicas[0].c.kill()
	killed := time.Now()
	time.Sleep(2 * time.Second)
	stop()
	w.mu.Lock()
	acked, failures := append([]string(nil), w.acked...), w.failures
	w.mu.Unlock()
	if len(failures) > 0 {
		t.Fatalf("writes failed: %v", failures)
	}
	dups := requireAllForwarded(t, sink, acked, 90*time.Second)
	t.Logf("%d spans acknowledged, all forwarded; %d forwarded twice (the killed replica's batch in flight); the survivor finished %s after the kill",
		len(acked), dups, time.Since(killed).Round(time.Millisecond))
	if dups > batch {
		t.Errorf("%d spans forwarded twice, more than the one batch (%d) the killed replica can have had in flight", dups, batch)
	}
}

// TestE2EGatewayHADatabaseOutage: the database stops for 20 s under load
// and starts again. Clients get 503 with Retry-After meanwhile and retry;
// every acknowledged span is stored and forwarded; the replicas recover
// by themselves.
func TestE2EGatewayHADatabaseOutage(t *testing.T) {
	requireCollector(t)
	t.Parallel()
	// A server of its own: it is stopped.
	srv, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dsn, err := srv.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sink := newOTLPSink(t)
	cl := startHA(t, dsn, sink, 2)
	w, stop := startWriters(cl, 4, 10)
	time.Sleep(2 * time.Second)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// The load goes on until writes succeed again, and a little longer.
	w.mu.Lock()
	before := len(w.acked)
	w.mu.Unlock()
	eventually(t, 60*time.Second, 100*time.Millisecond, "writes acknowledged again after the restart", func() (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acked) > before+100, fmt.Sprintf("%d acknowledged", len(w.acked))
	})
	stop()
	w.mu.Lock()
	acked, ackTraces, n503, retryHdr, failures := w.acked, w.ackTraces, w.status503, w.retryHdr, w.failures
	w.mu.Unlock()
	if len(failures) > 0 {
		t.Fatalf("writes failed with other than 503: %v", failures)
	}
	if n503 == 0 || retryHdr != n503 {
		t.Fatalf("%d answers 503 during the outage, %d of them with Retry-After: want some, all with it", n503, retryHdr)
	}
	// Every acknowledged trace is stored whole, on either replica.
	for tid, n := range ackTraces {
		r := cl.replicas[len(tid)%2]
		var tr opperapi.Trace
		if status, body := cl.sendJSON(t, "GET", r.base+"/v2/traces/"+tid, nil, &tr); status != 200 || len(tr.Spans) != n {
			t.Fatalf("acknowledged trace %s: %d, %d of %d spans: %.300s", tid, status, len(tr.Spans), n, body)
		}
	}
	dups := requireAllForwarded(t, sink, acked, 60*time.Second)
	t.Logf("%d spans in %d traces acknowledged (%d answers 503 with Retry-After meanwhile), all stored and forwarded, %d twice",
		len(acked), len(ackTraces), n503, dups)
}
