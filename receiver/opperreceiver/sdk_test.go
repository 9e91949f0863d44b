package opperreceiver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
)

// sdkDir holds the pinned Opper TypeScript SDK (opperai 3.4.1) and the
// flow script; `make test-node-deps` installs it (npm ci).
var sdkDir = filepath.Join("..", "..", "testdata", "sdk")

// TestTypeScriptSDKv2 runs every v2 trace call of the real SDK against the
// receiver. The SDK validates each answer (status, content type, field
// types) and throws on any mismatch.
func TestTypeScriptSDKv2(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH; the Opper TypeScript SDK test needs Node.js")
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "opperai")); err != nil {
		t.Skipf("%s/node_modules is missing; run `make test-node-deps` (npm ci in %s)", sdkDir, sdkDir)
	}
	sink := new(consumertest.TracesSink)
	_, url := startReceiver(t, sink, nil, func(cfg *Config) {
		cfg.APIKeys = []APIKeyConfig{{Key: "op-test-key", Project: "sdk"}}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "v2-flow.mjs")
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(), "OPPER_RECEIVER_URL="+url, "OPPER_API_KEY=op-test-key")
	out, err := cmd.CombinedOutput()
	t.Logf("node v2-flow.mjs:\n%s", out)
	require.NoError(t, err, "the SDK flow failed")
}
