package translator

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTruncateContent(t *testing.T) {
	str := func(s string) *string { return &s }
	long := strings.Repeat("é", 100) // 200 bytes
	s := Span{Input: str(long), Output: str("short"), Instructions: str(long)}
	TruncateContent(&s, 65) // 51 bytes for content would split an é
	assert.Len(t, *s.Input, 50+len(TruncateMarker), "the longest rune-aligned prefix that fits, with the marker")
	assert.True(t, utf8.ValidString(*s.Input))
	assert.True(t, strings.HasSuffix(*s.Input, TruncateMarker))
	assert.Equal(t, *s.Input, *s.Instructions)
	assert.Equal(t, "short", *s.Output)
	assert.Equal(t, map[string]any{"input": int64(200), "instructions": int64(200)}, s.Meta.Value(MetaTruncated))

	again := *s.Input
	TruncateContent(&s, 65)
	assert.Equal(t, again, *s.Input, "cut content is not cut again")

	s = Span{Input: str(long)}
	TruncateContent(&s, 0)
	assert.Equal(t, long, *s.Input, "0 is no limit")
}

func TestTruncateContentJSONBecomesText(t *testing.T) {
	js := `{"messages":["` + strings.Repeat("x", 100) + `"]}`
	s := Span{Input: &js, InputJSON: true, Output: new(string), OutputJSON: true}
	*s.Output = `{"ok":true}`
	TruncateContent(&s, 64)
	assert.False(t, s.InputJSON, "a cut JSON value is no longer JSON")
	assert.True(t, s.OutputJSON, "an uncut one stays JSON")
	v2 := ToSpanV2(&s)
	var in string
	require.NoError(t, json.Unmarshal(v2.Input, &in), "given back as a string")
	assert.True(t, strings.HasSuffix(in, TruncateMarker))
	assert.JSONEq(t, `{"ok":true}`, string(v2.Output))
	assert.NotContains(t, string(v2.Meta), MetaInputJSON)
}
