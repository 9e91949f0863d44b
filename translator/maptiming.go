package translator

import (
	"strings"
	"time"
)

// The timing mapper: time to first token and streaming.

// timingKeys are every key mapTiming reads.
var timingKeys = keysOf(kLangfuseObservationCompletionStartTime, kAiResponseMsToFirstChunk, kAiStreamMsToFirstChunk,
	kGenAiResponseTimeToFirstChunk, kGenAiClientOperationTimeToFirstChunk, kGenAiRequestStream, kGenAiIsStreaming, kLlmIsStreaming)

// mapTiming records time to first token (genai-mapping.md b.1) in meta.
func (c *spanCtx) mapTiming() {
	if !c.a.anyOf(&timingKeys) {
		return
	}
	s := c.out
	var ms float64
	found := false
	if v, ok := c.a.str(kLangfuseObservationCompletionStartTime); ok {
		// Older Langfuse SDKs double-quote the timestamp as JSON.
		v = strings.Trim(v, `"`)
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && !s.StartTime.IsZero() {
			ms, found = float64(t.Sub(s.StartTime).Microseconds())/1000, true
		}
	}
	if !found {
		if v, ok := c.a.float(kAiResponseMsToFirstChunk, kAiStreamMsToFirstChunk); ok {
			ms, found = v, true
		}
	}
	if !found {
		if v, ok := c.a.float(kGenAiResponseTimeToFirstChunk, kGenAiClientOperationTimeToFirstChunk); ok {
			ms, found = v*1000, true
		}
	}
	if found && ms >= 0 {
		c.setMeta("time_to_first_token_ms", ms)
	}
	if v, ok := c.a.get(kGenAiRequestStream); ok && v.Bool() {
		c.setMeta("stream", true)
	} else if v, ok := c.a.get(kGenAiIsStreaming); ok && v.Bool() {
		c.setMeta("stream", true)
	} else if v, ok := c.a.get(kLlmIsStreaming); ok && v.Bool() {
		c.setMeta("stream", true)
	}
}
