package translator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

// expectation files: shared/fixtures/expected.json as shipped, and the same
// format for the payloads this project captured itself.
var expectationFiles = []string{"expected.json", "expected-extra.json"}

type expectedTokens struct {
	In    *int64 `json:"in"`
	Out   *int64 `json:"out"`
	Total *int64 `json:"total"`
}

type expectedSpan struct {
	Name      string          `json:"name"`
	Parent    *string         `json:"parent"`
	Type      string          `json:"type"`
	Alt       []string        `json:"alt"`
	Model     *string         `json:"model"`
	Tokens    *expectedTokens `json:"tokens"`
	Aggregate *expectedTokens `json:"aggregate"`
	Input     json.RawMessage `json:"input"`
	Output    json.RawMessage `json:"output"`
	Error     bool            `json:"error"`
	Call      *int            `json:"call"`
}

type expectedFixture struct {
	File  string         `json:"file"`
	Spans []expectedSpan `json:"spans"`
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// TestExpectedMappings asserts, span by span, the mapping that
// expected.json records for each real payload: type, model, tokens
// (aggregates apart), error, and whether input and output are present; and
// that each trace's total is the sum over its usage leaves.
func TestExpectedMappings(t *testing.T) {
	tr := New(Options{Retention: RetentionFull})
	for _, ef := range expectationFiles {
		data, err := os.ReadFile(filepath.Join(otlpDir, ef))
		require.NoError(t, err)
		var doc struct {
			Fixtures []expectedFixture `json:"fixtures"`
		}
		require.NoError(t, json.Unmarshal(data, &doc))
		require.NotEmpty(t, doc.Fixtures)
		for _, fx := range doc.Fixtures {
			t.Run(fx.File, func(t *testing.T) {
				td := otlpfixtures.Load(t, filepath.Join(otlpDir, fx.File))
				spans := tr.ToOpper(td)
				require.Len(t, spans, len(fx.Spans), "span count")
				checkFixture(t, fx, spans, otlpNames(td))
			})
		}
	}
}

// otlpNames lists span names in the order ToOpper keeps, because the
// expectations name spans as the instrumentation did and the translator may
// rename a generic one (`ai.toolCall` becomes the tool's name).
func otlpNames(td ptrace.Traces) []string {
	var names []string
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				names = append(names, s.Name())
			}
		}
	}
	return names
}

func checkFixture(t *testing.T, fx expectedFixture, spans []Span, names []string) {
	// Same-named spans are told apart by start order (the expectations
	// number provider calls in the order they were made).
	byName := map[string][]*Span{}
	for i := range spans {
		byName[names[i]] = append(byName[names[i]], &spans[i])
	}
	for _, list := range byName {
		sort.SliceStable(list, func(i, j int) bool { return list[i].StartTime.Before(list[j].StartTime) })
	}
	wantByName := map[string][]expectedSpan{}
	for _, e := range fx.Spans {
		wantByName[e.Name] = append(wantByName[e.Name], e)
	}
	var wantTotal int64
	for name, wants := range wantByName {
		sort.SliceStable(wants, func(i, j int) bool {
			if wants[i].Call != nil && wants[j].Call != nil {
				return *wants[i].Call < *wants[j].Call
			}
			return false
		})
		got := byName[name]
		require.Len(t, got, len(wants), "spans named %q", name)
		for i, want := range wants {
			s := got[i]
			where := name
			types := append([]string{want.Type}, want.Alt...)
			for j, typ := range types {
				if typ == "call" {
					types[j] = TypeFunction
				}
			}
			assert.Contains(t, types, s.Type, "%s: type", where)
			if want.Model != nil {
				assert.Equal(t, *want.Model, s.Model, "%s: model", where)
			} else {
				assert.Empty(t, s.Model, "%s: model", where)
			}
			if want.Tokens != nil {
				require.NotNil(t, s.Usage, "%s: usage", where)
				assert.False(t, s.Aggregate, "%s: usage must count", where)
				assertTokens(t, where, want.Tokens, s.Usage)
				wantTotal += *want.Tokens.Total
			} else {
				assert.Zero(t, s.TotalTokens(), "%s: no counted tokens", where)
			}
			if want.Aggregate != nil {
				require.NotNil(t, s.Usage, "%s: aggregate usage", where)
				assert.True(t, s.Aggregate, "%s: aggregate", where)
				assertTokens(t, where, want.Aggregate, s.Usage)
			}
			assert.Equal(t, want.Error, s.Error != nil, "%s: error", where)
			assert.Equal(t, !isNull(want.Input), s.Input != nil, "%s: input present", where)
			assert.Equal(t, !isNull(want.Output), s.Output != nil, "%s: output present", where)
			if want.Parent == nil {
				assert.Empty(t, s.ParentID, "%s: root", where)
			} else {
				var parentIDs []string
				for _, p := range byName[*want.Parent] {
					parentIDs = append(parentIDs, p.ID)
				}
				assert.True(t, slices.Contains(parentIDs, s.ParentID), "%s: parent %s", where, *want.Parent)
			}
		}
	}
	var gotTotal int64
	traces := map[string][]Span{}
	for _, s := range spans {
		traces[s.TraceID] = append(traces[s.TraceID], s)
	}
	for _, ts := range traces {
		gotTotal += RollUp(ts).TotalTokens
	}
	assert.Equal(t, wantTotal, gotTotal, "trace totals = sum over usage leaves")
}

func assertTokens(t *testing.T, where string, want *expectedTokens, got *Usage) {
	if want.In != nil {
		assert.Equal(t, *want.In, got.Input, "%s: input tokens", where)
	}
	if want.Out != nil {
		assert.Equal(t, *want.Out, got.Output, "%s: output tokens", where)
	}
	if want.Total != nil {
		assert.Equal(t, *want.Total, got.Total, "%s: total tokens", where)
	}
}
