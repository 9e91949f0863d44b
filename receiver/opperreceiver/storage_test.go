package opperreceiver

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/opperotel/bridge/extension/opperstorageextension"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadata"
	"github.com/opperotel/bridge/translator"
)

type extHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h extHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// TestSharedStorageExtension: with `storage: opper_storage` the receiver
// serves the extension's store, which another component writes into, and
// leaves closing it to the extension.
func TestSharedStorageExtension(t *testing.T) {
	ctx := context.Background()
	extID := component.MustNewID("opper_storage")
	ext, err := opperstorageextension.NewFactory().Create(ctx, extensiontest.NewNopSettings(component.MustNewType("opper_storage")),
		&opperstorageextension.Config{Memory: &opperstorageextension.MemoryConfig{MaxTraces: 10}})
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, ext.Shutdown(ctx)) }()
	host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{extID: ext}}

	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Storage = StorageConfig{Extension: &extID}
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx, host))

	// Another component (the exporter, in a collector) writes a span.
	st, err := opperstorageextension.GetStore(host, extID, component.MustNewID("opper"))
	require.NoError(t, err)
	sp := translator.Span{ID: "0af76519-16cd-43dd-8448-eb211c80319c", TraceID: "0af76519-16cd-43dd-8448-eb211c80319c", Name: "written elsewhere"}
	require.NoError(t, st.UpsertSpans(ctx, DefaultProject, []translator.Span{sp}, false))

	resp, err := http.Get("http://" + r.addr.String() + "/v2/spans/" + sp.ID)
	require.NoError(t, err)
	body := readAll(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "written elsewhere")

	require.NoError(t, r.Shutdown(ctx))
	_, err = st.GetSpan(ctx, DefaultProject, sp.ID)
	assert.NoError(t, err, "the receiver's shutdown must not close the shared store")
}

func TestSharedStorageExtensionMissing(t *testing.T) {
	extID := component.MustNewID("opper_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Storage = StorageConfig{Extension: &extID}
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	err = r.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `storage "opper_storage": no such extension is running`)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
