package opperexporter

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pipeline"

	"github.com/opperotel/bridge/receiver/opperreceiver"
)

// TestConsumeContract runs the collector's exporter contract with this
// project's receiver as the other end: the receiver's pipeline answers
// with random permanent and non-permanent errors, and the exporter must
// retry exactly the non-permanent ones.
func TestConsumeContract(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	rf := opperreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*opperreceiver.Config)
	rcfg.ServerConfig.NetAddr.Endpoint = addr
	rcfg.Storage = opperreceiver.StorageConfig{SQLite: &opperreceiver.SQLiteConfig{Path: filepath.Join(t.TempDir(), "traces.db")}}
	rcfg.APIKeys = []opperreceiver.APIKeyConfig{{Key: testKey, Project: "default"}}
	// The receiver as the second tier of a two-tier setup: it passes the
	// exporter's spans on (no loop here), and answers only once its
	// pipeline took them, so the pipeline's errors reach the exporter.
	rcfg.Forward.Enabled = true
	rcfg.Forward.IncludeExporterSpans = true
	rcfg.Forward.WaitForPipeline = true

	cfg := testConfig("http://" + addr)

	exportertest.CheckConsumeContract(exportertest.CheckConsumeContractParams{
		T:                    t,
		NumberOfTestElements: 50,
		Signal:               pipeline.SignalTraces,
		ExporterFactory:      NewFactory(),
		ExporterConfig:       cfg,
		ReceiverFactory:      rf,
		ReceiverConfig:       rcfg,
	})
}
