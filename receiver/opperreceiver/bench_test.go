package opperreceiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadata"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/memory"
)

// benchStores are the stores the benchmarks run on: the default SQLite
// store, and the in-memory one that shows the receiver's own cost.
var benchStores = []string{"sqlite", "memory"}

// startBenchReceiver starts the receiver with its defaults (SQLite in a
// temp dir, forwarding on into a nop consumer) on a free port.
func startBenchReceiver(b *testing.B, storeName string) string {
	b.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Storage.SQLite.Path = filepath.Join(b.TempDir(), "opper.db")
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(b, err)
	if storeName == "memory" {
		r.openStore = func(context.Context, component.Host, component.ID, *Config) (store.Store, bool, error) {
			return memory.New(), true, nil
		}
	}
	require.NoError(b, r.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, r.Shutdown(context.Background())) })
	return "http://" + r.addr.String()
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}, Timeout: 10 * time.Second}
}

func benchPost(b *testing.B, c *http.Client, url string, body []byte, headers ...string) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

func spanBody(i int64) []byte {
	return fmt.Appendf(nil, `{"name":"llm call","id":"%08x-0000-4000-8000-%012x","trace_id":"%08x-0000-4000-8000-000000000000",`+
		`"type":"generation","start_time":"2024-03-20T10:00:00Z","end_time":"2024-03-20T10:00:01.5Z",`+
		`"input":"What is the capital of France?","output":"Paris.",`+
		`"meta":{"model":"gpt-4o","usage":{"input_tokens":12,"output_tokens":3},"cost":0.0021}}`, i/10, i, i/10)
}

// BenchmarkCreateSpanV2 posts one span per request over keep-alive
// connections, from GOMAXPROCS*16 concurrent clients (SDK processes
// sending to one receiver), so the store's group commit can batch.
func BenchmarkCreateSpanV2(b *testing.B) {
	for _, st := range benchStores {
		b.Run("store="+st, func(b *testing.B) { benchCreateSpanV2(b, st) })
	}
}

func benchCreateSpanV2(b *testing.B, storeName string) {
	url := startBenchReceiver(b, storeName) + "/v2/spans"
	c := benchClient()
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, c, url, spanBody(seq.Add(1)))
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkCreateSpansBatch posts 1,000 spans per request to
// /v2/spans/batch, as the exporter does: with its loop-guard header
// (stored, not forwarded), and without (stored and forwarded).
func BenchmarkCreateSpansBatch(b *testing.B) {
	for _, st := range benchStores {
		b.Run("store="+st+"/exporter", func(b *testing.B) {
			benchCreateSpansBatch(b, st, opperapi.HeaderSource, opperapi.SourceExporter)
		})
		b.Run("store="+st+"/forwarded", func(b *testing.B) { benchCreateSpansBatch(b, st) })
	}
}

func benchCreateSpansBatch(b *testing.B, storeName string, headers ...string) {
	const perBatch = 1000
	url := startBenchReceiver(b, storeName) + "/v2/spans/batch"
	c := benchClient()
	var seq atomic.Int64
	b.SetParallelism(1)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			buf = append(buf[:0], '[')
			for j := range perBatch {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, spanBody(seq.Add(1))...)
			}
			buf = append(buf, ']')
			benchPost(b, c, url, buf, headers...)
		}
	})
	b.ReportMetric(float64(b.N*perBatch)/time.Since(start).Seconds(), "spans/s")
}
