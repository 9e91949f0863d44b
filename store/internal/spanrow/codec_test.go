package spanrow

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/translator"
)

func FuzzDecodeBody(f *testing.F) {
	cost := 0.5
	f.Add(AppendBody(nil, &translator.Span{
		TraceID: "t", ID: "s", Name: "n", StartTime: time.Unix(1, 2), Cost: &cost, Tags: []string{"a"},
		Usage: &translator.Usage{Total: 3}, Metrics: []translator.Metric{{Dimension: "d"}},
		Meta: translator.MetaOf(map[string]any{"a": []any{int64(1), json.Number("2"), map[string]any{"b": nil}}}),
	}))
	f.Add(AppendBody(nil, &translator.Span{TraceID: "t", ID: "s",
		Metrics: []translator.Metric{{Dimension: "d"}, {ID: "m", Dimension: "e", Value: 1, Comment: "c"}}}))
	f.Add([]byte{bodyVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s translator.Span
		if DecodeBody(b, &s) != nil {
			return
		}
		// What decodes re-encodes to a body that decodes to the same size
		// (not compared with Equal: a NaN never equals itself).
		var again translator.Span
		require.NoError(t, DecodeBody(AppendBody(nil, &s), &again))
		require.Len(t, AppendBody(nil, &again), len(AppendBody(nil, &s)))
	})
}

// appendJSONValue writes a translator value as the JSON it marshals to, for
// every length of length prefix (one and two varint bytes).
func TestAppendJSONValue(t *testing.T) {
	for _, n := range []int{0, 1, 126, 127, 128, 300, 20000} {
		raw := `"` + strings.Repeat("x", n) + `"`
		sp := translator.Span{TraceID: "t", ID: "s", Meta: translator.Meta{{Key: "k", Value: appenderValue(raw)}, {Key: "z", Value: "after"}}}
		var got translator.Span
		require.NoError(t, DecodeBody(AppendBody([]byte("prefix"), &sp)[len("prefix"):], &got))
		require.Equal(t, json.RawMessage(raw), got.Meta.Value("k"), "length %d", n)
		require.Equal(t, "after", got.Meta.Value("z"))
	}
}

type appenderValue string

func (a appenderValue) AppendJSON(b []byte) []byte { return append(b, a...) }

// TestBodyMetricIDs: metric ids are kept, and a body written before they
// existed (no flagMetricIDs; bytes from the previous codec) still reads,
// with ids "", and is what the codec writes today for metrics without ids.
func TestBodyMetricIDs(t *testing.T) {
	old, err := hex.DecodeString("01000174017300016e0000000000000000000102020000030972656c6576616e6365000000000000e03f016304746f6e65000000000000f0bf0000")
	require.NoError(t, err)
	sp := translator.Span{TraceID: "t", ID: "s", Name: "n", StartTime: time.Unix(1, 2),
		Metrics: []translator.Metric{{Dimension: "relevance", Value: 0.5, Comment: "c"}, {Dimension: "tone", Value: -1}}}
	var got translator.Span
	require.NoError(t, DecodeBody(old, &got))
	require.Equal(t, sp.Metrics, got.Metrics)
	require.Equal(t, old, AppendBody(nil, &sp))

	sp.Metrics[1].ID = "6d000000-0000-5000-8000-000000000001"
	got = translator.Span{}
	require.NoError(t, DecodeBody(AppendBody(nil, &sp), &got))
	require.Equal(t, sp.Metrics, got.Metrics)
}
