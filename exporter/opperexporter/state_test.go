package opperexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A child whose parent is on its way in another request, single or bulk,
// waits for that request instead of creating a placeholder.
func TestInflightWaitsForSingleAndBulkCreates(t *testing.T) {
	f := newInflight()
	ctx := context.Background()
	assert.False(t, f.wait(ctx, "a"), "nothing in flight")

	endSingle, busy := f.begin("a")
	require.NotNil(t, endSingle)
	require.Nil(t, busy)
	_, busy = f.begin("a")
	assert.NotNil(t, busy, "a second create of the same id sees the first")

	ids := []string{"b", "c"}
	endBulk := f.beginGroup(func(id string) bool { return id == ids[0] || id == ids[1] })
	endOther := f.beginGroup(func(id string) bool { return id == "d" })

	waited := make(chan string, 3)
	for _, id := range []string{"a", "c", "d"} {
		go func() {
			if f.wait(ctx, id) {
				waited <- id
			}
		}()
	}
	select {
	case id := <-waited:
		t.Fatalf("%s stopped waiting while in flight", id)
	case <-time.After(50 * time.Millisecond):
	}
	endBulk()
	assert.Equal(t, "c", <-waited)
	endSingle()
	assert.Equal(t, "a", <-waited)
	endOther()
	assert.Equal(t, "d", <-waited)

	for _, id := range []string{"a", "b", "c", "d"} {
		assert.False(t, f.wait(ctx, id), "%s is no longer in flight", id)
	}
	assert.Empty(t, f.groups)
}

// A cancelled push stops waiting.
func TestInflightWaitEndsWithTheContext(t *testing.T) {
	f := newInflight()
	defer f.beginGroup(func(id string) bool { return id == "p" })()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.True(t, f.wait(ctx, "p"))
}
