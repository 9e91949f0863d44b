package opperreceiver

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// v2Generator posts ended spans through POST /v2/spans. Each carries the
// contract checker's test_id as an OTel attribute (meta.otel.attributes
// goes back to OTLP attributes as is).
type v2Generator struct {
	t      *testing.T
	url    string
	client *http.Client
	seq    atomic.Int64
}

func (g *v2Generator) Start() {}
func (g *v2Generator) Stop()  {}

func (g *v2Generator) Generate() []receivertest.UniqueIDAttrVal {
	id := fmt.Sprintf("contract-%d", g.seq.Add(1))
	body := fmt.Sprintf(`{"name":"s","id":%q,"trace_id":"contract","start_time":"2024-03-20T10:00:00Z",`+
		`"end_time":"2024-03-20T10:00:01Z","meta":{"otel":{"attributes":{%q:%q}}}}`, id, receivertest.UniqueIDAttrName, id)
	// The receiver answers once the span is stored; a 503 would be retried
	// here, as an SDK with retries would, but this receiver never sends one
	// for a consumer's failure.
	for {
		resp, err := g.client.Post(g.url+"/v2/spans", "application/json", bytes.NewReader([]byte(body)))
		require.NoError(g.t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			time.Sleep(time.Millisecond)
			continue
		}
		require.Equal(g.t, http.StatusOK, resp.StatusCode)
		return []receivertest.UniqueIDAttrVal{receivertest.UniqueIDAttrVal(id)}
	}
}

// TestConsumeContract runs the collector's receiver contract: every span
// generated is either accepted by the consumer or dropped on a permanent
// error, exactly once, while the consumer fails at random.
//
// The exporter-side contract (collector.md 2-3) maps consumer errors to
// HTTP statuses (503 retryable, 400 permanent) because that receiver hands
// data to the pipeline inside the request. This one stores first and
// answers 200 once the span is durable, so a consumer error never reaches
// the client: the forwarder retries non-permanent errors from the store
// itself, and drops (counts, logs) spans on a permanent one. The contract
// holds all the same: nothing accepted is lost or duplicated.
func TestConsumeContract(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := ln.Addr().String()
	require.NoError(t, ln.Close())

	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = endpoint
	cfg.Storage.SQLite.Path = filepath.Join(t.TempDir(), "opper.db")
	cfg.Forward.BatchSize = 16
	cfg.Forward.PollInterval = 20 * time.Millisecond
	cfg.Forward.RetryInitialInterval = time.Millisecond
	cfg.Forward.RetryMaxInterval = 5 * time.Millisecond

	receivertest.CheckConsumeContract(receivertest.CheckConsumeContractParams{
		T:             t,
		Factory:       NewFactory(),
		Signal:        pipeline.SignalTraces,
		Config:        cfg,
		Generator:     &v2Generator{t: t, url: "http://" + endpoint, client: &http.Client{Timeout: 5 * time.Second}},
		GenerateCount: 200,
	})
}
