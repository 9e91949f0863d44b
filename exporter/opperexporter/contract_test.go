package opperexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/opperotel/bridge/receiver/opperreceiver"
)

// ourReceiverConfig is this project's receiver on a free loopback port,
// over SQLite in a temp dir, taking testKey for project "default".
func ourReceiverConfig(t *testing.T) (*opperreceiver.Config, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	rcfg := opperreceiver.NewFactory().CreateDefaultConfig().(*opperreceiver.Config)
	rcfg.ServerConfig.NetAddr.Endpoint = addr
	rcfg.Storage = opperreceiver.StorageConfig{SQLite: &opperreceiver.SQLiteConfig{Path: filepath.Join(t.TempDir(), "traces.db")}}
	rcfg.APIKeys = []opperreceiver.APIKeyConfig{{Key: testKey, Project: "default"}}
	return rcfg, "http://" + addr
}

// startOurReceiver runs the receiver of rcfg until the test ends.
func startOurReceiver(t *testing.T, rcfg *opperreceiver.Config) {
	rf := opperreceiver.NewFactory()
	r, err := rf.CreateTraces(context.Background(), receivertest.NewNopSettings(rf.Type()), rcfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
}

// TestConsumeContract runs the collector's exporter contract with this
// project's receiver as the other end: the receiver's pipeline answers
// with random permanent and non-permanent errors, and the exporter must
// retry exactly the non-permanent ones. Every span carries an evaluation,
// and the scenarios send the same spans again (the generator's ids repeat),
// so retries and replays meet stored metrics: each must be stored once.
func TestConsumeContract(t *testing.T) {
	for _, bulk := range []BulkMode{BulkOff, BulkOn} {
		t.Run("bulk_"+string(bulk), func(t *testing.T) {
			rcfg, url := ourReceiverConfig(t)
			// The receiver as the second tier of a two-tier setup: it passes the
			// exporter's spans on (no loop here), and answers only once its
			// pipeline took them, so the pipeline's errors reach the exporter.
			rcfg.Forward.Enabled = true
			rcfg.Forward.IncludeExporterSpans = true
			rcfg.Forward.WaitForPipeline = true

			cfg := testConfig(url)
			cfg.Bulk = bulk

			const n = 50
			exportertest.CheckConsumeContract(exportertest.CheckConsumeContractParams{
				T:                    t,
				NumberOfTestElements: n,
				Signal:               pipeline.SignalTraces,
				ExporterFactory:      evaluatingFactory(),
				ExporterConfig:       cfg,
				ReceiverFactory:      opperreceiver.NewFactory(),
				ReceiverConfig:       rcfg,
			})

			// The checker has stopped its receiver; read the store through
			// a new one.
			rcfg.Forward.Enabled = false
			startOurReceiver(t, rcfg)
			metrics := storedMetrics(t, url)
			require.Len(t, metrics, n, "one span per test element")
			for id, ms := range metrics {
				assert.Equal(t, []string{"relevance"}, ms, "span %s", id)
			}
		})
	}
}

// TestReplayIntoReceiverStoresMetricsOnce: the same export (a chat span
// with one evaluation) sent three times, as a persistent queue replays
// after a crash, gives the span one metric, on the per-span and the bulk
// path, under the id the translator derived.
func TestReplayIntoReceiverStoresMetricsOnce(t *testing.T) {
	for _, bulk := range []BulkMode{BulkOff, BulkOn} {
		t.Run("bulk_"+string(bulk), func(t *testing.T) {
			rcfg, url := ourReceiverConfig(t)
			startOurReceiver(t, rcfg)
			cfg := testConfig(url)
			cfg.Bulk = bulk
			exp := startExporter(t, cfg)
			td := oneSpan("chat")
			addEvaluation(td)
			for range 3 {
				require.NoError(t, exp.ConsumeTraces(context.Background(), td))
			}

			want := expectedSpans(t, cfg, []ptrace.Traces{td})
			require.Len(t, want, 1)
			for id, s := range want {
				require.Len(t, s.Metrics, 1)
				var list struct {
					Meta struct {
						TotalCount int `json:"total_count"`
					} `json:"meta"`
					Data []struct {
						ID        string  `json:"id"`
						Dimension string  `json:"dimension"`
						Value     float64 `json:"value"`
					} `json:"data"`
				}
				getJSON(t, url+"/v2/spans/"+id+"/metrics", &list)
				require.Equal(t, 1, list.Meta.TotalCount)
				assert.Equal(t, s.Metrics[0].ID, list.Data[0].ID)
				assert.Equal(t, "relevance", list.Data[0].Dimension)
				assert.InDelta(t, 0.8, list.Data[0].Value, 1e-9)
			}
		})
	}
}

// evaluatingFactory is the exporter's factory, except that every span it
// is given gets an evaluation event first, the same one each time.
func evaluatingFactory() exporter.Factory {
	f := NewFactory()
	return exporter.NewFactory(f.Type(), f.CreateDefaultConfig, exporter.WithTraces(
		func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
			exp, err := f.CreateTraces(ctx, set, cfg)
			if err != nil {
				return nil, err
			}
			return evaluating{exp}, nil
		}, f.TracesStability()))
}

type evaluating struct{ exporter.Traces }

func (e evaluating) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	c := ptrace.NewTraces()
	td.CopyTo(c)
	addEvaluation(c)
	return e.Traces.ConsumeTraces(ctx, c)
}

// addEvaluation adds a semconv relevance evaluation to every span.
func addEvaluation(td ptrace.Traces) {
	at := pcommon.NewTimestampFromTime(time.Date(2026, 3, 20, 10, 0, 1, 0, time.UTC))
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				ev := s.Events().AppendEmpty()
				ev.SetName("gen_ai.evaluation.result")
				ev.SetTimestamp(at)
				ev.Attributes().PutStr("gen_ai.evaluation.name", "relevance")
				ev.Attributes().PutDouble("gen_ai.evaluation.score.value", 0.8)
				ev.Attributes().PutStr("gen_ai.evaluation.explanation", "on topic")
			}
		}
	}
}

// storedMetrics reads every trace of the receiver at url and returns the
// dimensions of each span's metrics, by span id.
func storedMetrics(t *testing.T, url string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for offset := 0; ; offset += 100 {
		var list struct {
			Meta struct {
				TotalCount int `json:"total_count"`
			} `json:"meta"`
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		getJSON(t, fmt.Sprintf("%s/v2/traces?limit=100&offset=%d", url, offset), &list)
		for _, item := range list.Data {
			var tr struct {
				Spans []struct {
					ID      string `json:"id"`
					Metrics []struct {
						Dimension string `json:"dimension"`
					} `json:"metrics"`
				} `json:"spans"`
			}
			getJSON(t, url+"/v2/traces/"+item.ID, &tr)
			for _, s := range tr.Spans {
				out[s.ID] = []string{}
				for _, m := range s.Metrics {
					out[s.ID] = append(out[s.ID], m.Dimension)
				}
			}
		}
		if len(list.Data) == 0 || offset+len(list.Data) >= list.Meta.TotalCount {
			return out
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}
