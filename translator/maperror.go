package translator

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The error mapper: a span's failure from its status, exception events
// and error attributes.

func (c *spanCtx) mapError(status ptrace.Status) {
	s := c.out
	var exception string
	for i := c.events.Len() - 1; i >= 0; i-- {
		ev := c.events.At(i)
		if ev.Name() != "exception" {
			continue
		}
		c.eventUsed[i] = true
		attrs := ev.Attributes()
		typ, _ := attrs.Get("exception.type")
		msg, _ := attrs.Get("exception.message")
		switch {
		case typ.Str() != "" && msg.Str() != "":
			exception = typ.Str() + ": " + msg.Str()
		case msg.Str() != "":
			exception = msg.Str()
		default:
			exception = typ.Str()
		}
		if st, ok := attrs.Get("exception.stacktrace"); ok && st.Str() != "" {
			c.setMeta("exception_stacktrace", st.Str())
		}
		break
	}
	errorType, _ := c.a.str(kErrorType)
	level, _ := c.a.str(kLangfuseObservationLevel)
	levelMessage, _ := c.a.str(kLangfuseObservationStatusMessage)
	if level != "" {
		c.setMeta("level", level)
	}
	var msg string
	switch {
	case status.Code() == ptrace.StatusCodeError:
		msg = firstNonEmpty(status.Message(), exception, errorType, levelMessage, "span status is ERROR")
		if errorType != "" {
			c.setMeta("error_type", errorType)
		}
	case strings.EqualFold(level, "ERROR"):
		msg = firstNonEmpty(levelMessage, status.Message(), exception, "level ERROR")
		// The OTel status said nothing (or OK); remember it, so the span
		// goes back to OTLP as it came.
		c.otel.statusCode = statusCodeName(status.Code())
	default:
		// An exception recorded on a span that did not fail (a handled
		// error, a deferred tool call) is not the span's error.
		if exception != "" {
			c.setMeta("exception", exception)
		}
		if errorType != "" {
			c.setMeta("error_type", errorType)
		}
		return
	}
	s.Error = new(msg)
}

func statusCodeName(c ptrace.StatusCode) string {
	switch c {
	case ptrace.StatusCodeOk:
		return "OK"
	case ptrace.StatusCodeError:
		return "ERROR"
	}
	return "UNSET"
}
