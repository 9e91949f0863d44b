//go:build unix

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// An OTLP answer means stored, on the local path: every span the OTLP
// receiver answered 200 for is in the store after the collector dies
// (kill -9) or is stopped (SIGTERM) in the middle of a load.

const (
	durabilitySpansPerTrace = 10
	durabilityTracesPerReq  = 100
	durabilityConns         = 4
)

// ackLoad sends OTLP/HTTP protobuf requests closed-loop from a few
// connections until stopped, and records the trace ids of every request the
// collector answered 200.
type ackLoad struct {
	url  string
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	acked    []string // trace ids (Opper form)
	statuses map[string]int
	requests int
}

func startAckLoad(t *testing.T, httpAddr string) *ackLoad {
	l := &ackLoad{url: "http://" + httpAddr + "/v1/traces", stop: make(chan struct{}), statuses: map[string]int{}}
	client := &http.Client{Timeout: 30 * time.Second}
	for c := range durabilityConns {
		l.wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				body, ids := durabilityRequest(c, n)
				status := l.post(client, body)
				l.mu.Lock()
				l.requests++
				l.statuses[status]++
				if status == "200" {
					l.acked = append(l.acked, ids...)
				}
				l.mu.Unlock()
				if status != "200" {
					// The collector is down or pushing back: wait as a
					// client's retry would.
					select {
					case <-l.stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
		})
	}
	t.Cleanup(l.end)
	return l
}

func (l *ackLoad) post(client *http.Client, body []byte) string {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return "error"
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return "network error"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return fmt.Sprint(resp.StatusCode)
}

// end stops the load and waits for the requests in flight.
func (l *ackLoad) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func (l *ackLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// durabilityRequest is request n of connection c: 100 new traces of 10
// spans each (a root and nine children), with ids no other request uses.
func durabilityRequest(c, n int) ([]byte, []string) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "e2e-durability")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	ids := make([]string, 0, durabilityTracesPerReq)
	start := time.Now()
	for tr := range durabilityTracesPerReq {
		var tid pcommon.TraceID
		tid[0], tid[1] = 0xd0, byte(c)
		tid[2], tid[3], tid[4], tid[5] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		tid[6], tid[7] = byte(tr>>8), byte(tr)
		tid[15] = 1
		ids = append(ids, translator.TraceUUID(tid))
		for s := range durabilitySpansPerTrace {
			sp := spans.AppendEmpty()
			sp.SetTraceID(tid)
			sp.SetSpanID(pcommon.SpanID{0x5a, byte(s + 1)})
			if s > 0 {
				sp.SetParentSpanID(pcommon.SpanID{0x5a, 1})
			}
			sp.SetName(fmt.Sprintf("step %d", s))
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(s) * time.Millisecond)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(20-s) * time.Millisecond)))
			sp.Attributes().PutStr("http.route", "/orders/{id}")
			sp.Attributes().PutInt("http.status_code", 200)
		}
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err)
	}
	return body, ids
}

// storedTraces pages through the whole trace list and returns each trace's
// span count.
func storedTraces(t *testing.T, base string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for offset := 0; ; offset += 100 {
		var page opperapi.List[opperapi.TraceListItem]
		mustGetJSON(t, fmt.Sprintf("%s/v2/traces?limit=100&offset=%d", base, offset), "", &page)
		for _, it := range page.Data {
			out[it.ID] = it.SpanCount
		}
		if len(page.Data) < 100 {
			return out
		}
	}
}

// checkAcknowledgedStored fails for every acknowledged trace that is not in
// the store whole.
func checkAcknowledgedStored(t *testing.T, base string, l *ackLoad) {
	t.Helper()
	stored := storedTraces(t, base)
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("%d requests (%v), %d traces acknowledged, %d stored", l.requests, l.statuses, len(l.acked), len(stored))
	if len(l.acked) == 0 {
		t.Fatal("no request was acknowledged before the collector stopped: the test proves nothing")
	}
	missing := 0
	for _, id := range l.acked {
		if n := stored[id]; n != durabilitySpansPerTrace {
			if missing < 5 {
				t.Errorf("acknowledged trace %s: %d of %d spans stored", id, n, durabilitySpansPerTrace)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged traces are not stored whole", missing, len(l.acked))
	}
}

func TestE2ELocalDurability(t *testing.T) {
	requireCollector(t)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"kill-9", syscall.SIGKILL},
		{"sigterm", syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newLocalPorts(t)
			c := startCollector(t, "local-"+tc.name, p.health, nil,
				append([]string{"--config=" + filepath.Join(repoRoot, "config", "local.yaml")}, p.setArgs()...)...)
			load := startAckLoad(t, p.http)
			// Stop the collector one second into the load, with requests
			// in flight.
			eventually(t, 30*time.Second, 20*time.Millisecond, "first acknowledged spans", func() (bool, string) {
				return load.ackedCount() > 0, "none acknowledged yet"
			})
			time.Sleep(time.Second)
			if !c.signal(tc.sig, 30*time.Second) {
				t.Errorf("the collector did not exit within 30s of %v", tc.sig)
			}
			load.end()

			c.start()
			checkAcknowledgedStored(t, "http://"+p.opper, load)
		})
	}
}
