package opperexporter

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/translator"
)

func content(span, input string, records int) translator.LogContent {
	return translator.LogContent{TraceID: "t", SpanID: span, Input: &input, Records: records}
}

// Content for a span that already waits is merged into it (one entry, the
// records add up, the wait started with the first); the buffer's bytes
// never pass its bound, the oldest going first.
func TestJoinBufferMergesAndEvictsOldest(t *testing.T) {
	now := time.Now()
	j := newJoinBuffer(3000, time.Minute)
	assert.Zero(t, j.add(content("a", strings.Repeat("x", 1000), 2), now))
	out := "answer"
	later := translator.LogContent{TraceID: "t", SpanID: "a", Output: &out, Records: 1}
	assert.Zero(t, j.add(later, now.Add(time.Second)))
	entries, records, _ := j.stats()
	assert.Equal(t, 1, entries)
	assert.EqualValues(t, 3, records)

	assert.Zero(t, j.add(content("b", strings.Repeat("y", 1000), 1), now))
	evicted := j.add(content("c", strings.Repeat("z", 1000), 1), now)
	assert.Equal(t, 3, evicted, "the oldest entry (a, 3 records) made room")
	_, _, bytes := j.stats()
	assert.LessOrEqual(t, bytes, int64(3000))

	taken := j.takeFor([]translator.Span{{ID: "x"}, {ID: "a"}, {ID: "b"}})
	require.Len(t, taken, 3)
	assert.Nil(t, taken[0])
	assert.Nil(t, taken[1], "a was evicted")
	require.NotNil(t, taken[2])
	assert.Equal(t, "b", taken[2].lc.SpanID)
	assert.Nil(t, j.takeFor([]translator.Span{{ID: "b"}}), "taken once")

	assert.Equal(t, 1000+128+2, int(j.add(content("huge", strings.Repeat("h", 5000), 1000+128+2), now)),
		"content larger than the buffer is refused whole")
}

// The sweep retries an entry 5 s after it came, then less and less
// often, and hands it over as expired once span_wait has passed.
func TestJoinBufferDue(t *testing.T) {
	now := time.Now()
	j := newJoinBuffer(1<<20, time.Minute)
	j.add(content("a", "in", 1), now)

	retry, expired := j.due(now.Add(4 * time.Second))
	assert.Empty(t, retry)
	assert.Empty(t, expired)

	var tries []time.Duration
	for at := 5 * time.Second; at < time.Minute; at += 250 * time.Millisecond {
		retry, expired = j.due(now.Add(at))
		require.Empty(t, expired)
		if len(retry) == 1 {
			tries = append(tries, at)
			j.putBack(retry)
		}
	}
	assert.Equal(t, []time.Duration{5 * time.Second, 15 * time.Second, 35 * time.Second}, tries, "5s, then 10s, 20s and at most 30s later")
	retry, expired = j.due(now.Add(time.Minute))
	assert.Empty(t, retry)
	require.Len(t, expired, 1)
	entries, records, bytes := j.stats()
	assert.Zero(t, entries+int(records)+int(bytes))
}

// Records that race with their span's write are never left to the sweep:
// those that came before the write is marked are handed to the write,
// those after it are told the span is stored.
func TestJoinBufferWriteRace(t *testing.T) {
	now := time.Now()
	j := newJoinBuffer(1<<20, time.Minute)
	written := newRecentSpans()
	_, added := j.addUnlessWritten(content("a", "in", 1), now, written)
	require.True(t, added)

	late := j.markWritten([]translator.Span{{ID: "b"}, {ID: "a"}}, written)
	require.Len(t, late, 2)
	assert.Nil(t, late[0])
	require.NotNil(t, late[1])
	assert.Equal(t, "a", late[1].lc.SpanID)

	evicted, added := j.addUnlessWritten(content("b", "in", 1), now, written)
	assert.False(t, added, "b is stored: fill it in place")
	assert.Zero(t, evicted)
	entries, _, _ := j.stats()
	assert.Zero(t, entries)
	assert.Nil(t, j.markWritten([]translator.Span{{ID: "c"}}, written), "an empty buffer hands nothing")
}
