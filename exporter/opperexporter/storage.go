package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/opperotel/bridge/translator"
)

// Storage mode: the spans are translated as for the HTTP paths (retention,
// field caps, aggregate marking) and written straight into the store of an
// opper_storage extension, in one call per push. No JSON and no HTTP: the
// store's group commit turns concurrent pushes into few transactions. The
// spans are written as the exporter's own (forward off), so a receiver on
// the same store never hands them to its pipeline again.

// writeStore writes one push's spans into the store. The push returns once
// the store has committed, so with the queue's wait_for_result an OTLP
// answer means stored.
func (e *opperExporter) writeStore(ctx context.Context, spans []translator.Span) error {
	if err := e.joinWaiting(ctx, spans, func() error { return e.store.UpsertSpans(ctx, e.cfg.Project, spans, false) }); err != nil {
		// A store error is not the data's fault (the translator always
		// gives spans ids): the write is retried, by the queue's retry or
		// by the sender that was told to.
		return fmt.Errorf("writing %d spans into the trace store %q: %w", len(spans), e.cfg.Storage, err)
	}
	e.telemetry.ExporterOpperSpansSent.Add(ctx, int64(len(spans)))
	return nil
}

// queueFullRetryAfter is the delay a sender refused by a full queue is
// asked to wait: about the time the store takes to write a full queue.
const queueFullRetryAfter = time.Second

// pushBack turns a full sending queue into back-pressure a sender
// understands: gRPC RESOURCE_EXHAUSTED with RetryInfo, which the OTLP
// receiver answers as gRPC RESOURCE_EXHAUSTED, or HTTP 429 with
// Retry-After. exporterhelper's own error is a plain one, which the OTLP
// receiver answers with 503 and no delay, so senders retry at once.
type pushBack struct {
	exporter.Traces
}

func (p pushBack) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	return throttleFullQueue(p.Traces.ConsumeTraces(ctx, td))
}

// pushBackLogs is pushBack for the logs pipeline.
type pushBackLogs struct {
	exporter.Logs
}

func (p pushBackLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return throttleFullQueue(p.Logs.ConsumeLogs(ctx, ld))
}

func throttleFullQueue(err error) error {
	if err != nil && errors.Is(err, exporterhelper.ErrQueueIsFull) {
		return newThrottled(err, queueFullRetryAfter)
	}
	return err
}

// throttled is a retryable error that carries a gRPC status with a retry
// delay, and still unwraps to its cause.
type throttled struct {
	err error
	st  *status.Status
}

func newThrottled(err error, delay time.Duration) error {
	st := status.New(codes.ResourceExhausted, "the opper exporter's sending queue is full; retry later: "+err.Error())
	if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)}); derr == nil {
		st = d
	}
	return &throttled{err: err, st: st}
}

func (t *throttled) Error() string              { return t.st.Message() }
func (t *throttled) Unwrap() error              { return t.err }
func (t *throttled) GRPCStatus() *status.Status { return t.st }
