package opperexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/opperfake"
	"github.com/opperotel/bridge/translator"
)

// waves splits td by depth, deepest first: one Traces per level, so every
// child travels in an earlier batch than its parent.
func waves(td ptrace.Traces) []ptrace.Traces {
	var out []ptrace.Traces
	var cur ptrace.Traces
	last := -1
	for _, one := range childrenFirstWithDepth(td) {
		if one.depth != last {
			cur = ptrace.NewTraces()
			out = append(out, cur)
			last = one.depth
		}
		one.td.ResourceSpans().MoveAndAppendTo(cur.ResourceSpans())
	}
	return out
}

type depthTraces struct {
	td    ptrace.Traces
	depth int
}

func childrenFirstWithDepth(td ptrace.Traces) []depthTraces {
	ones := childrenFirst(td)
	ids := map[string]int{}
	parent := map[string]string{}
	for _, one := range ones {
		s := one.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		k := s.TraceID().String() + s.SpanID().String()
		ids[k] = 0
		if !s.ParentSpanID().IsEmpty() {
			parent[k] = s.TraceID().String() + s.ParentSpanID().String()
		}
	}
	out := make([]depthTraces, 0, len(ones))
	for _, one := range ones {
		s := one.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		d := 0
		for k, ok := parent[s.TraceID().String()+s.SpanID().String()]; ok && d < 64; k, ok = parent[k] {
			d++
		}
		out = append(out, depthTraces{one, d})
	}
	return out
}

// expectedSpans is what the translator makes of the batches as they were
// sent (aggregate marking depends on which spans share a batch).
func expectedSpans(t *testing.T, cfg *Config, batches []ptrace.Traces) map[string]translator.Span {
	prices, err := translator.LoadPrices(cfg.PriceTable)
	require.NoError(t, err)
	tr := translator.New(cfg.translatorOptions(prices))
	out := map[string]translator.Span{}
	for _, td := range batches {
		for _, s := range tr.ToOpper(td) {
			out[s.ID] = s
		}
	}
	return out
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v), string(b))
	return v
}

// storedAsCreate renders a stored span in the shape of a v2 create body.
func storedAsCreate(t *testing.T, sp opperfake.Span) any {
	m := map[string]any{"name": sp.Name, "id": sp.ID, "trace_id": sp.TraceID}
	if sp.ParentID != "" {
		m["parent_id"] = sp.ParentID
	}
	if sp.Type != "" {
		m["type"] = sp.Type
	}
	if sp.StartTime != "" {
		m["start_time"] = sp.StartTime
	}
	if sp.EndTime != "" {
		m["end_time"] = sp.EndTime
	}
	if sp.Input != nil {
		m["input"] = sp.Input
	}
	if sp.Output != nil {
		m["output"] = sp.Output
	}
	if sp.Error != nil {
		m["error"] = *sp.Error
	}
	m["meta"] = sp.Meta
	if sp.Score != nil {
		m["score"] = *sp.Score
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return decodeJSON(t, b)
}

// assertStoredExactly checks that the fake holds exactly the expected spans,
// each created once, linked to its parent, equal to the create body the
// translator makes of it.
func assertStoredExactly(t *testing.T, fake *opperfake.Server, want map[string]translator.Span) {
	t.Helper()
	stored := fake.Spans()
	require.Len(t, stored, len(want), "every span stored once, nothing else (no placeholder left)")
	for _, sp := range stored {
		exp, ok := want[sp.ID]
		if !assert.True(t, ok, "unexpected span %s %q", sp.ID, sp.Name) {
			continue
		}
		assert.Equal(t, 1, sp.Creates)
		assert.Equal(t, exp.ParentID, sp.ParentID, "span %q linked to its parent", sp.Name)
		body := translator.AppendCreateSpanV2(nil, &exp)
		assert.Equal(t, decodeJSON(t, body), storedAsCreate(t, sp), "span %q as stored", sp.Name)
		if exp.Model != "" {
			assert.Equal(t, exp.Model, sp.Meta[translator.MetaModel], "model of %q", sp.Name)
		}
		if exp.Usage != nil && !exp.Aggregate {
			assert.Equal(t, json.Number(jsonInt(exp.Usage.Total)), sp.Meta[translator.MetaTotalTokens], "tokens of %q", sp.Name)
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestFixturesChildrenFirstAcrossBatches sends every shared fixture, deepest
// spans first and each depth in its own batch, through the strict fake: the
// children wait (parent_wait) for their parents, and every span ends up
// stored once, linked, complete, without placeholders.
func TestFixturesChildrenFirstAcrossBatches(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		name := "per_span"
		if bulk {
			name = "bulk"
		}
		t.Run(name, func(t *testing.T) {
			fake := opperfake.New(opperfake.Options{APIKey: testKey, Bulk: bulk})
			defer fake.Close()
			cfg := testConfig(fake.URL())
			withQueue(cfg, 8)
			cfg.ParentWait = 10 * time.Second
			if bulk {
				cfg.Bulk = BulkOn
			}
			exp := startExporter(t, cfg)

			batches := waves(allFixtures(t))
			require.Greater(t, len(batches), 2)
			want := expectedSpans(t, cfg, batches)
			for _, td := range batches {
				require.NoError(t, exp.ConsumeTraces(context.Background(), td))
				time.Sleep(30 * time.Millisecond)
			}
			require.Eventually(t, func() bool {
				return len(fake.Spans()) == len(want) && exp.counter(t, "otelcol_exporter_opper_spans_sent") == int64(len(want))
			},
				15*time.Second, 20*time.Millisecond)
			assertStoredExactly(t, fake, want)
			assert.Zero(t, exp.counter(t, "otelcol_exporter_opper_placeholder_parents"))
			assert.Positive(t, exp.counter(t, "otelcol_exporter_opper_spans_held"), "children were held for their parents")
			if bulk {
				assert.Positive(t, fake.Requests()["POST /v2/spans/batch 200"])
			}
		})
	}
}

// TestFixturesPlaceholders sends the fixtures one span per synchronous
// request, children first, with parent_wait 0: each missing parent gets a
// placeholder, which the real parent completes with PATCH. Every span is
// stored once and complete; the documented limit is that a span which
// started as a placeholder has no parent_id (v2 PATCH cannot set it).
func TestFixturesPlaceholders(t *testing.T) {
	fake := opperfake.New(opperfake.Options{APIKey: testKey})
	defer fake.Close()
	cfg := testConfig(fake.URL())
	cfg.ParentWait = 0
	exp := startExporter(t, cfg)

	batches := childrenFirst(allFixtures(t))
	want := expectedSpans(t, cfg, batches)
	for _, td := range batches {
		require.NoError(t, exp.ConsumeTraces(context.Background(), td))
	}
	stored := fake.Spans()
	require.Len(t, stored, len(want))
	placeholders := 0
	for _, sp := range stored {
		exp, ok := want[sp.ID]
		require.True(t, ok)
		assert.Equal(t, exp.Name, sp.Name)
		assert.Equal(t, exp.Type, sp.Type)
		assert.Equal(t, exp.TraceID, sp.TraceID)
		assert.NotEqual(t, true, sp.Meta["placeholder"], "placeholder %s completed", sp.ID)
		if sp.Updates > 0 {
			placeholders++
			assert.Equal(t, false, sp.Meta["placeholder"])
			if exp.ParentID != "" {
				assert.Empty(t, sp.ParentID, "documented limit: a placeholder is a root")
			}
		} else {
			assert.Equal(t, exp.ParentID, sp.ParentID, "span %q linked", sp.Name)
			body := translator.AppendCreateSpanV2(nil, &exp)
			assert.Equal(t, decodeJSON(t, body), storedAsCreate(t, sp))
		}
	}
	assert.Positive(t, placeholders)
	assert.Equal(t, int64(placeholders), exp.counter(t, "otelcol_exporter_opper_placeholder_parents"))
	assert.Equal(t, int64(len(want)), exp.counter(t, "otelcol_exporter_opper_spans_sent"))
	assert.Equal(t, placeholders, fake.Requests()["PATCH /v2/spans/{id} 200"])
}

// TestV3Fixtures sends the fixtures children first across batches to the
// v3 fake: server-assigned ids, parents linked through the id map.
func TestV3Fixtures(t *testing.T) {
	fake := opperfake.New(opperfake.Options{APIKey: testKey})
	defer fake.Close()
	cfg := testConfig(fake.URL())
	cfg.APIVersion = APIVersionV3
	withQueue(cfg, 8)
	exp := startExporter(t, cfg)

	batches := waves(allFixtures(t))
	want := expectedSpans(t, cfg, batches)
	for _, td := range batches {
		require.NoError(t, exp.ConsumeTraces(context.Background(), td))
		time.Sleep(30 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return exp.counter(t, "otelcol_exporter_opper_spans_sent") == int64(len(want)) },
		15*time.Second, 20*time.Millisecond)
	stored := fake.SpansV3()
	require.Len(t, stored, len(want), "each span created once")

	// Map server ids back through (name, start time), unique in the fixtures.
	type key struct{ name, start string }
	byKey := map[key]translator.Span{}
	for _, s := range want {
		byKey[key{s.Name, s.StartTime.UTC().Format(time.RFC3339Nano)}] = s
	}
	serverToLocal := map[string]translator.Span{}
	traceOf := map[string]string{}
	for _, sp := range stored {
		s, ok := byKey[key{sp.Name, sp.StartTime}]
		require.True(t, ok, "span %q", sp.Name)
		serverToLocal[sp.ID] = s
		if prev, ok := traceOf[s.TraceID]; ok {
			assert.Equal(t, prev, sp.TraceID, "one server trace per trace")
		}
		traceOf[s.TraceID] = sp.TraceID
	}
	for _, sp := range stored {
		local := serverToLocal[sp.ID]
		if local.ParentID == "" {
			assert.Empty(t, sp.ParentID)
			continue
		}
		require.NotEmpty(t, sp.ParentID, "span %q linked", sp.Name)
		assert.Equal(t, local.ParentID, serverToLocal[sp.ParentID].ID, "span %q linked to its parent", sp.Name)
	}
}
