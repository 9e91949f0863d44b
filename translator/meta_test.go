package translator

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetaSetGetDelete(t *testing.T) {
	var m Meta
	assert.False(t, m.Has("a"))
	m.Set("b", 1)
	m.Set("a", 2)
	m.Set("c", 3)
	m.Set("b", 4) // replaces
	assert.Equal(t, Meta{{"a", 2}, {"b", 4}, {"c", 3}}, m, "kept sorted, each key once")
	v, ok := m.Get("b")
	assert.True(t, ok)
	assert.Equal(t, 4, v)
	assert.Nil(t, m.Value("missing"))
	m.Delete("a")
	m.Delete("missing")
	assert.Equal(t, Meta{{"b", 4}, {"c", 3}}, m)
	assert.Equal(t, map[string]any{"b": 4, "c": 3}, m.Map())
	assert.Equal(t, Meta{{"b", 4}, {"c", 3}}, MetaOf(m.Map()))
	assert.Nil(t, MetaOf(nil))
}

// A copied span shares its Meta's array: a new key set on the copy must not
// land in the array past the original's length, where the original's next
// Set would overwrite it.
func TestMetaSetDoesNotWriteIntoSharedCapacity(t *testing.T) {
	backing := make(Meta, 1, 8)
	backing[0] = MetaField{"a", 1}
	orig := Span{Meta: backing}
	cp := orig
	cp.Meta.Set("b", 2)
	cp.Meta.Set("0", 0)
	assert.Equal(t, Meta{{"a", 1}}, orig.Meta)
	assert.Equal(t, Meta{{"a", 1}}, backing[:1:1])
	assert.Equal(t, MetaField{}, backing[:2][1], "nothing written past the original's length")
}

func TestMetaUnsortedLiteralEncodesSorted(t *testing.T) {
	m := Meta{{"z", true}, {"a", "x"}}
	m.Set("m", int64(1))
	b, err := m.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":"x","m":1,"z":true}`, string(b))
	assert.Equal(t, `{"a":"x","m":1,"z":true}`, string(b), "keys sorted")
	assert.Equal(t, "z", m[0].Key, "encoding does not reorder the span's Meta")
}

// A client may send thousands of meta keys; merging them must stay linear
// and keep the last of repeated keys.
func TestMetaMergeLarge(t *testing.T) {
	var fields Meta
	for i := range 50_000 {
		fields = append(fields, MetaField{fmt.Sprintf("k%05d", i%40_000), i})
	}
	m := Meta{{"existing", true}, {"k00001", "replaced"}}
	m.merge(fields)
	require.Len(t, m, 40_001)
	assert.True(t, slices.IsSortedFunc(m, compareFields))
	assert.Equal(t, 40_001, m.Value("k00001"), "the last repeat wins")
	assert.Equal(t, true, m.Value("existing"))
}
