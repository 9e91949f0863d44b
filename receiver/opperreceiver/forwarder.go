package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadata"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// format is the obsreport format of spans this receiver forwards.
const format = "opper_json"

// linger is how long the forwarder waits after a write woke it, so that one
// batch carries the spans of many requests instead of one each.
const linger = 10 * time.Millisecond

// markTimeout bounds recording an accepted batch as forwarded once a
// shutdown has begun; a store that cannot write by then gets the batch sent
// again at the next start rather than holding the shutdown.
const markTimeout = 5 * time.Second

// forwarder hands stored spans to the next consumer: it reads the store's
// outbox, converts the spans to OTLP, and marks them forwarded once the
// consumer accepted them. Writes wake it through a channel; a ticker also
// wakes it, for spans that time out incomplete and for spans another
// process (a previous run, a replica) left in the outbox.
//
// A consumer error that is not permanent is retried, with the interval
// doubling up to a maximum, for as long as it takes: the spans stay in the
// outbox meanwhile, and across a restart. A permanent error means the
// pipeline will never take these spans: they are logged (a count, not
// their content), counted (receiver_opper_spans_forward_dropped), and
// marked forwarded so they do not block the outbox; they stay in the store.
type forwarder struct {
	store     store.Store
	next      consumer.Traces
	obsrep    *receiverhelper.ObsReport
	telemetry *metadata.TelemetryBuilder
	logger    *zap.Logger
	cfg       ForwardConfig
	now       func() time.Time

	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// unmarked holds a batch the next consumer accepted but the store
	// could not record (its database was down): recording it is retried
	// before the outbox is read again, so the batch is not sent twice.
	// The store's lease keeps other replicas off it meanwhile.
	unmarked []store.PendingKey
}

func newForwarder(st store.Store, next consumer.Traces, obsrep *receiverhelper.ObsReport, tb *metadata.TelemetryBuilder,
	logger *zap.Logger, cfg ForwardConfig,
) *forwarder {
	return &forwarder{store: st, next: next, obsrep: obsrep, telemetry: tb, logger: logger, cfg: cfg, now: time.Now,
		wake: make(chan struct{}, 1)}
}

// notify wakes the forwarder; it never blocks.
func (f *forwarder) notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *forwarder) start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.wg.Go(func() { f.run(ctx) })
}

// stop ends the loop and waits for it; spans not yet accepted stay in the
// outbox for the next start.
func (f *forwarder) stop() {
	if f == nil || f.cancel == nil {
		return
	}
	f.cancel()
	f.wg.Wait()
}

func (f *forwarder) run(ctx context.Context) {
	ticker := time.NewTicker(f.cfg.PollInterval)
	defer ticker.Stop()
	for {
		f.drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(linger):
			}
		case <-ticker.C:
		}
	}
}

// drain forwards batches until the outbox has nothing due or ctx ends.
func (f *forwarder) drain(ctx context.Context) {
	backoff := f.cfg.RetryInitialInterval
	failing := false
	for ctx.Err() == nil {
		var err error
		if len(f.unmarked) > 0 {
			if err = f.store.MarkForwarded(ctx, f.unmarked); err == nil {
				f.unmarked = nil
			}
		}
		var pending []store.Pending
		if err == nil {
			pending, err = f.store.PendingForward(ctx, f.cfg.BatchSize, f.now().Add(-f.cfg.IncompleteSpanTimeout))
			if err == nil && len(pending) == 0 {
				if failing {
					f.logger.Info("Forwarding to the next consumer recovered")
				}
				return
			}
		}
		if err == nil {
			err = f.forward(ctx, pending)
		}
		if err == nil {
			if failing {
				f.logger.Info("Forwarding to the next consumer recovered")
				failing = false
			}
			backoff = f.cfg.RetryInitialInterval
			// A full batch may mean more is waiting; a short one means
			// the outbox is drained, unless writes came meanwhile (wake).
			if len(pending) < f.cfg.BatchSize {
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if !failing {
			// Once per outage, not per retry.
			f.logger.Warn("Forwarding to the next consumer failed; the spans stay in the store and are retried",
				zap.Error(err), zap.Duration("retry_in", backoff))
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, f.cfg.RetryMaxInterval)
	}
}

// forward converts one batch, hands it to the next consumer, and marks it.
func (f *forwarder) forward(ctx context.Context, pending []store.Pending) error {
	err := consume(ctx, f.next, f.obsrep, toTraces(pending))
	if err != nil && !consumererror.IsPermanent(err) {
		return err
	}
	keys := make([]store.PendingKey, len(pending))
	for i := range pending {
		keys[i] = pending[i].Key
	}
	if err != nil {
		f.telemetry.ReceiverOpperSpansForwardDropped.Add(ctx, int64(len(pending)))
		f.logger.Error("The next consumer rejected spans permanently; they stay in the store but are not forwarded",
			zap.Int("spans", len(pending)), zap.Error(err))
	} else {
		f.telemetry.ReceiverOpperSpansForwarded.Add(ctx, int64(len(pending)))
	}
	// The pipeline has these spans now, even when a shutdown cancelled ctx
	// while it took them: recording that must not be cancelled with it, or
	// the next start would send them again.
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := f.store.MarkForwarded(markCtx, keys); err != nil {
		f.unmarked = keys
		return fmt.Errorf("recording %d forwarded spans: %w", len(keys), err)
	}
	return nil
}

// projectTraces converts one project's spans to OTLP under a resource
// naming the project (spans that came from OTLP keep their own resource,
// recorded in their meta).
func projectTraces(project string, spans []translator.Span) ptrace.Traces {
	return translator.ToOTLP(spans, map[string]any{"service.name": project, "opper.project": project})
}

// consume hands td to the next consumer, counted by the receiver's
// ObsReport.
func consume(ctx context.Context, next consumer.Traces, obsrep *receiverhelper.ObsReport, td ptrace.Traces) error {
	opCtx := obsrep.StartTracesOp(ctx)
	err := next.ConsumeTraces(opCtx, td)
	obsrep.EndTracesOp(opCtx, format, td.SpanCount(), err)
	return err
}

// toTraces converts pending spans to OTLP, one resource per project with
// service.name set to the project (spans that came from OTLP keep their
// own resource, recorded in their meta).
func toTraces(pending []store.Pending) ptrace.Traces {
	byProject := make(map[string][]translator.Span)
	var order []string
	for i := range pending {
		p := pending[i].Key.Project
		if _, ok := byProject[p]; !ok {
			order = append(order, p)
		}
		byProject[p] = append(byProject[p], pending[i].Span)
	}
	td := ptrace.NewTraces()
	for _, p := range order {
		part := projectTraces(p, byProject[p])
		part.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	return td
}
