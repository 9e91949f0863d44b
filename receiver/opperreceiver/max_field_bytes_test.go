package opperreceiver

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/translator"
)

// longText is 301 bytes of two-byte runes and a one-byte tail, so a cut at
// most limits falls inside a rune.
var longText = strings.Repeat("é", 150) + "!"

const testFieldLimit = 65

// assertCapped checks a stored content field was cut to the limit on a rune
// boundary, marked, and its original size recorded.
func assertCapped(t *testing.T, s translator.Span, field string, v *string, orig int) {
	t.Helper()
	require.NotNil(t, v, field)
	assert.LessOrEqual(t, len(*v), testFieldLimit, field)
	assert.True(t, utf8.ValidString(*v), field)
	assert.True(t, strings.HasSuffix(*v, translator.TruncateMarker), field)
	tr, _ := s.Meta.Value(translator.MetaTruncated).(map[string]any)
	assert.EqualValues(t, orig, tr[field], "meta.truncated.%s", field)
}

func TestMaxFieldBytesOnEveryWritePath(t *testing.T) {
	ta := newTestAPI(t, func(cfg *Config) { cfg.MaxFieldBytes = testFieldLimit })
	stored := func(id string) translator.Span {
		t.Helper()
		s, err := ta.store.GetSpan(context.Background(), DefaultProject, id)
		require.NoError(t, err)
		return s
	}
	jsonInput := map[string]any{"messages": []string{longText}}

	t.Run("v2 create", func(t *testing.T) {
		resp := ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "s", "id": "c1",
			"input": jsonInput, "output": longText, "meta": map[string]any{"instructions": longText}})
		s := stored("c1")
		assertCapped(t, s, "input", s.Input, len(`{"messages":["`)+len(longText)+len(`"]}`))
		assertCapped(t, s, "output", s.Output, len(longText))
		assertCapped(t, s, "instructions", s.Instructions, len(longText))
		assert.False(t, s.InputJSON, "a cut JSON input is stored as text")
		in, ok := resp["input"].(string)
		require.True(t, ok, "and answered as a string: %v", resp["input"])
		assert.Equal(t, *s.Input, in)
	})
	t.Run("v2 batch", func(t *testing.T) {
		ta.mustJSON(200, "POST", "/v2/spans/batch", []any{
			map[string]any{"name": "b", "id": "b1", "output": longText},
			map[string]any{"name": "b", "id": "b2", "output": "short"},
		})
		s := stored("b1")
		assertCapped(t, s, "output", s.Output, len(longText))
		s = stored("b2")
		assert.Equal(t, "short", *s.Output)
		assert.False(t, s.Meta.Has(translator.MetaTruncated))
	})
	t.Run("v2 patch", func(t *testing.T) {
		ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "p", "id": "p1", "input": "short"})
		upd := ta.mustJSON(200, "PATCH", "/v2/spans/p1", map[string]any{"output": longText})
		s := stored("p1")
		assertCapped(t, s, "output", s.Output, len(longText))
		assert.Equal(t, "short", *s.Input)
		assert.Equal(t, *s.Output, upd["output"])
	})
	t.Run("v3 create and patch", func(t *testing.T) {
		created := ta.mustJSON(200, "POST", "/v3/spans", map[string]any{"name": "v3", "input": longText})
		id := get(created, "data", "id").(string)
		s := stored(id)
		assertCapped(t, s, "input", s.Input, len(longText))
		cutInput := *s.Input

		ta.mustJSON(200, "PATCH", "/v3/spans/"+id, map[string]any{"output": longText})
		s = stored(id)
		assertCapped(t, s, "output", s.Output, len(longText))
		assert.Equal(t, cutInput, *s.Input, "content cut before is left as it was")
		assertCapped(t, s, "input", s.Input, len(longText))
	})
}

func TestMaxFieldBytesZeroIsNoLimit(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	ta := newTestAPI(t, func(cfg *Config) { cfg.MaxFieldBytes = 0 })
	ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "s", "id": "s1", "input": big})
	s, err := ta.store.GetSpan(context.Background(), DefaultProject, "s1")
	require.NoError(t, err)
	assert.Equal(t, big, *s.Input)
}

func TestMaxFieldBytesDefault(t *testing.T) {
	assert.Equal(t, 256<<10, createDefaultConfig().(*Config).MaxFieldBytes)
	fits := strings.Repeat("x", 256<<10)
	ta := newTestAPI(t, nil)
	ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "s", "id": "s1", "input": fits, "output": fits + "y"})
	s, err := ta.store.GetSpan(context.Background(), DefaultProject, "s1")
	require.NoError(t, err)
	assert.Equal(t, fits, *s.Input, "the limit itself fits")
	assert.Len(t, *s.Output, 256<<10)
	assert.True(t, strings.HasSuffix(*s.Output, translator.TruncateMarker))
}

func TestMaxFieldBytesValidation(t *testing.T) {
	for v, want := range map[int]string{
		-1: "max_field_bytes must be 0 (no limit) or at least 64, got -1",
		10: "max_field_bytes must be 0 (no limit) or at least 64, got 10",
		0:  "", 64: "", 1 << 30: "",
	} {
		cfg := createDefaultConfig().(*Config)
		cfg.MaxFieldBytes = v
		err := cfg.Validate()
		if want == "" {
			assert.NoError(t, err, v)
		} else {
			assert.EqualError(t, err, want)
		}
	}
}
