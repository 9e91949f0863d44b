package opperstorageextension

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/opperotel/bridge/extension/opperstorageextension/internal/metadata"
	"github.com/opperotel/bridge/translator"
)

// host is a component.Host with the given extensions.
type host struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h host) GetExtensions() map[component.ID]component.Component { return h.exts }

func span(id string) translator.Span {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return translator.Span{ID: id, TraceID: "trace-1", Name: id, StartTime: start, EndTime: start.Add(time.Second)}
}

// TestSharedStore: two components that name one extension see one store,
// and what one writes survives the extension's restart on SQLite.
func TestSharedStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "opper.db")
	cfg := &Config{SQLite: &SQLiteConfig{Path: path}}
	id := component.MustNewID("opper_storage")

	start := func() (component.Component, host) {
		ext, err := NewFactory().Create(ctx, extensiontest.NewNopSettings(metadata.Type), cfg)
		require.NoError(t, err)
		require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
		return ext, host{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{id: ext}}
	}
	ext, h := start()
	writer, err := GetStore(h, id, component.MustNewID("opper"))
	require.NoError(t, err)
	reader, err := GetStore(h, id, component.MustNewID("other"))
	require.NoError(t, err)
	require.NoError(t, writer.UpsertSpans(ctx, "default", []translator.Span{span("a")}, false))
	got, err := reader.GetSpan(ctx, "default", "a")
	require.NoError(t, err)
	assert.Equal(t, "a", got.Name)
	require.NoError(t, ext.Shutdown(ctx))
	require.NoError(t, ext.Shutdown(ctx), "a second shutdown is harmless")

	ext, h = start()
	defer func() { require.NoError(t, ext.Shutdown(ctx)) }()
	st, err := GetStore(h, id, component.MustNewID("opper"))
	require.NoError(t, err)
	_, err = st.GetSpan(ctx, "default", "a")
	assert.NoError(t, err, "the span is still there after a restart")
}

func TestGetStoreErrors(t *testing.T) {
	id := component.MustNewID("opper_storage")
	me := component.MustNewID("opper")

	_, err := GetStore(host{Host: componenttest.NewNopHost()}, id, me)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `storage "opper_storage": no such extension is running`)

	other := host{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{id: struct{ component.Component }{}}}
	_, err = GetStore(other, id, me)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not an opper_storage extension")

	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), &Config{Memory: &MemoryConfig{MaxTraces: 1}})
	require.NoError(t, err)
	_, err = GetStore(host{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{id: ext}}, id, me)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has not opened its store")
}

func TestStartFailsClearly(t *testing.T) {
	// A directory where the database file should be.
	dir := t.TempDir()
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), &Config{SQLite: &SQLiteConfig{Path: dir}})
	require.NoError(t, err)
	err = ext.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "opening the SQLite store")
	require.NoError(t, ext.Shutdown(context.Background()))
}
