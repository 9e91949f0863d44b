package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// GenAI log records. OpenTelemetry's own GenAI instrumentations put a
// call's messages in log records, not on its span; the translator maps
// the records of a span to what they add to it (translator.LogContent,
// the span mapping's own content sources and retention), and this file
// brings that to the span, which travels in another pipeline, seconds
// earlier or later, maybe through another collector:
//
//   - storage mode: the stored span is filled in place (Store.UpdateSpan,
//     only what it lacks). Content whose span is not stored yet waits in
//     the join buffer, and the push that brings the span writes it with
//     its content, once; a sweep finds spans stored by someone else.
//   - endpoint mode: the span is read back (GET /v2/spans/{id}) and
//     completed with PATCH; a span that is not there yet is retried
//     through the exporter's retry and queue (persistent if configured)
//     for up to logs::span_wait, as a child waits for its parent.

// Reasons, as the log_ignore_reason and log_drop_reason attributes say.
const (
	ignoreNotGenAI   = "not_genai"
	ignoreNoSpan     = "no_span"
	ignoreNoContent  = "no_content"
	dropBufferFull   = "buffer_full"
	dropSpanNotFound = "span_not_found"
	dropRejected     = "rejected"
	dropShutdown     = "shutdown"
)

var errSpanNotStored = errors.New("the span of these GenAI log records is not stored yet; they are retried (logs::span_wait)")

func (e *opperExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	e.telemetry.ExporterOpperLogRecordsReceived.Add(ctx, int64(ld.LogRecordCount()))
	contents, counts := e.tr.LogContents(ld)
	e.ignoreLogs(ctx, ignoreNotGenAI, counts.NotGenAI)
	e.ignoreLogs(ctx, ignoreNoSpan, counts.NoSpan)
	kept := contents[:0]
	for _, lc := range contents {
		if lc.Input == nil && lc.Output == nil && lc.Instructions == nil && len(lc.Metrics) == 0 {
			// Metadata retention, or records without messages.
			e.ignoreLogs(ctx, ignoreNoContent, lc.Records)
			continue
		}
		kept = append(kept, lc)
	}
	if len(kept) == 0 {
		return nil
	}
	if e.store != nil {
		return e.joinStored(ctx, kept)
	}
	return e.joinRemote(ctx, ld, kept)
}

// joinStored fills the stored spans, and buffers the content of spans
// not stored yet. A store failure fails the push: its sender retries it,
// and filling again changes nothing that was filled.
func (e *opperExporter) joinStored(ctx context.Context, contents []translator.LogContent) error {
	defer e.reportWaiting(ctx)
	now := time.Now()
	// Records usually come before their span: only those of spans this
	// exporter wrote lately are looked up now; the others wait, and the
	// span's write takes them (or the sweep looks for it).
	var stored []*translator.LogContent
	for i := range contents {
		evicted, added := e.joins.addUnlessWritten(contents[i], now, e.written)
		if !added {
			stored = append(stored, &contents[i])
		}
		e.dropLogs(ctx, dropBufferFull, evicted, nil)
	}
	if len(stored) == 0 {
		return nil
	}
	errs := make([]error, len(stored))
	e.fillAll(len(stored), func(i int) { errs[i] = e.fillStored(ctx, stored[i]) })
	for i, lc := range stored {
		switch err := errs[i]; {
		case err == nil:
			e.telemetry.ExporterOpperLogRecordsJoined.Add(ctx, int64(lc.Records))
		case errors.Is(err, store.ErrNotFound):
			e.dropLogs(ctx, dropBufferFull, e.joins.add(*lc, now), nil)
		default:
			return fmt.Errorf("joining GenAI log records to span %s in the trace store %q: %w", lc.SpanID, e.cfg.Storage, err)
		}
	}
	return nil
}

// fillAll runs fill(0..n-1) on up to storeFillers goroutines: the
// store's group commit turns concurrent updates into one transaction
// (SQLite), or spreads them over its connections (PostgreSQL), where one
// at a time would pay a commit each.
func (e *opperExporter) fillAll(n int, fill func(i int)) { concurrently(n, storeFillers, fill) }

// concurrently runs fn(0..n-1) on up to workers goroutines.
func concurrently(n, workers int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

const storeFillers = 32

// fillStored gives the stored span what lc adds to it; store.ErrNotFound
// when it is not stored. It reads first, so content that adds nothing (a
// replay, a span that carries its messages itself) costs no write.
func (e *opperExporter) fillStored(ctx context.Context, lc *translator.LogContent) error {
	s, err := e.store.GetSpan(ctx, e.cfg.Project, lc.SpanID)
	if err != nil {
		return err
	}
	e.joined.put(lc.SpanID, struct{}{})
	if !lc.Fill(&s) {
		return nil
	}
	_, err = e.store.UpdateSpan(ctx, e.cfg.Project, lc.SpanID, false, func(s *translator.Span) error {
		if !lc.Fill(s) {
			return errNothingToFill
		}
		return nil
	})
	if errors.Is(err, errNothingToFill) {
		return nil
	}
	return err
}

var errNothingToFill = errors.New("nothing to fill")

// joinWaiting is the storage mode's write of spans: content waiting for
// them is written with them, and goes back to wait if the write fails. A
// span written again (a replay, a sender's retry) keeps the content its
// records gave it earlier: UpsertSpans replaces a stored span whole.
func (e *opperExporter) joinWaiting(ctx context.Context, spans []translator.Span, write func() error) error {
	if !e.joinsLogs.Load() {
		// No logs pipeline: nothing can wait for these spans, and
		// remembering them would cost every write for nothing.
		return write()
	}
	taken := e.joins.takeFor(spans)
	if err := e.keepJoined(ctx, spans, taken); err != nil {
		return err
	}
	for i, w := range taken {
		if w != nil {
			w.lc.Fill(&spans[i])
		}
	}
	if err := write(); err != nil {
		if taken != nil {
			e.dropLogs(ctx, dropBufferFull, e.joins.putBack(taken), nil)
			e.reportWaiting(ctx)
		}
		return err
	}
	// Records that came while the spans were being written fill them in
	// place now; from here on, records of these spans do so themselves.
	late := e.joins.markWritten(spans, e.written)
	if taken == nil && late == nil {
		return nil
	}
	defer e.reportWaiting(ctx)
	joined := 0
	for i, w := range taken {
		if w != nil {
			joined += w.lc.Records
			e.joined.put(spans[i].ID, struct{}{})
		}
	}
	var fill []*waitingContent
	for _, w := range late {
		if w != nil {
			fill = append(fill, w)
		}
	}
	errs := make([]error, len(fill))
	e.fillAll(len(fill), func(i int) { errs[i] = e.fillStored(ctx, &fill[i].lc) })
	var back []*waitingContent
	for i, w := range fill {
		if errs[i] != nil {
			back = append(back, w) // the sweep tries again
			continue
		}
		joined += w.lc.Records
	}
	e.dropLogs(ctx, dropBufferFull, e.joins.putBack(back), nil)
	e.telemetry.ExporterOpperLogRecordsJoined.Add(ctx, int64(joined))
	return nil
}

// keepJoined gives the spans of this push that records filled before (and
// that carry no content of their own) the content stored for them.
func (e *opperExporter) keepJoined(ctx context.Context, spans []translator.Span, taken []*waitingContent) error {
	if e.joined.len() == 0 {
		return nil
	}
	for i := range spans {
		s := &spans[i]
		if taken != nil && taken[i] != nil || s.Input != nil && s.Output != nil && s.Instructions != nil {
			continue
		}
		if _, ok := e.joined.get(s.ID); !ok {
			continue
		}
		stored, err := e.store.GetSpan(ctx, e.cfg.Project, s.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		had := translator.LogContent{Input: stored.Input, Output: stored.Output, Instructions: stored.Instructions,
			InputJSON: stored.InputJSON, OutputJSON: stored.OutputJSON}
		had.Fill(s)
	}
	return nil
}

// sweepLoop looks, now and then, for the spans of waiting content that
// were stored without passing through this exporter, and drops what
// waited longer than span_wait.
func (e *opperExporter) sweepLoop() {
	defer close(e.sweepDone)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stopSweep:
			return
		case now := <-t.C:
			e.sweep(context.Background(), now)
		}
	}
}

func (e *opperExporter) sweep(ctx context.Context, now time.Time) {
	retry, expired := e.joins.due(now)
	if len(retry)+len(expired) == 0 {
		return
	}
	defer e.reportWaiting(ctx)
	all := append(retry, expired...)
	errs := make([]error, len(all))
	e.fillAll(len(all), func(i int) { errs[i] = e.fillStored(ctx, &all[i].lc) })
	var back []*waitingContent
	for i, w := range all {
		err := errs[i]
		switch {
		case err == nil:
			e.telemetry.ExporterOpperLogRecordsJoined.Add(ctx, int64(w.lc.Records))
		case i < len(retry):
			back = append(back, w)
		case errors.Is(err, store.ErrNotFound):
			e.dropLogs(ctx, dropSpanNotFound, w.lc.Records,
				fmt.Errorf("span %s of trace %s was not stored within logs::span_wait (%v)", w.lc.SpanID, w.lc.TraceID, e.cfg.Logs.SpanWait))
		default:
			e.dropLogs(ctx, dropSpanNotFound, w.lc.Records,
				fmt.Errorf("span %s could not be read within logs::span_wait (%v): %w", w.lc.SpanID, e.cfg.Logs.SpanWait, err))
		}
	}
	e.dropLogs(ctx, dropBufferFull, e.joins.putBack(back), nil)
}

// stopJoining stops the sweep and gives what still waits a last chance:
// the pipelines have drained, so a span that is not stored now will not
// be by this collector.
func (e *opperExporter) stopJoining(ctx context.Context) {
	if e.stopSweep == nil {
		return
	}
	close(e.stopSweep)
	<-e.sweepDone
	defer e.reportWaiting(ctx)
	lost := 0
	for _, w := range e.joins.drain() {
		if err := e.fillStored(ctx, &w.lc); err == nil {
			e.telemetry.ExporterOpperLogRecordsJoined.Add(ctx, int64(w.lc.Records))
			continue
		}
		lost += w.lc.Records
	}
	if lost > 0 {
		e.dropLogs(ctx, dropShutdown, lost, nil)
		e.logger.Warn("GenAI log records still waiting for their span at shutdown are dropped; their content is not stored",
			zap.Int("records", lost))
	}
}

// waitingGauge reports the join buffer's records as an up-down counter:
// the change since the last report.
type waitingGauge struct {
	mu       sync.Mutex
	reported int64
}

func (e *opperExporter) reportWaiting(ctx context.Context) {
	_, records, _ := e.joins.stats()
	e.waiting.mu.Lock()
	delta := records - e.waiting.reported
	e.waiting.reported = records
	e.waiting.mu.Unlock()
	if delta != 0 {
		e.telemetry.ExporterOpperLogRecordsWaiting.Add(ctx, delta)
	}
}

var (
	logIgnoreAttrs sync.Map // reason -> metric.AddOption
	logDropAttrs   sync.Map
)

func reasonOption(m *sync.Map, reason string) metric.AddOption {
	if opt, ok := m.Load(reason); ok {
		return opt.(metric.AddOption)
	}
	opt, _ := m.LoadOrStore(reason, metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))
	return opt.(metric.AddOption)
}

func (e *opperExporter) ignoreLogs(ctx context.Context, reason string, n int) {
	if n > 0 {
		e.telemetry.ExporterOpperLogRecordsIgnored.Add(ctx, int64(n), reasonOption(&logIgnoreAttrs, reason))
	}
}

// dropLogs counts n dropped records and logs them, at most once a minute
// per reason.
func (e *opperExporter) dropLogs(ctx context.Context, reason string, n int, err error) {
	if n <= 0 {
		return
	}
	e.telemetry.ExporterOpperLogRecordsDropped.Add(ctx, int64(n), reasonOption(&logDropAttrs, reason))
	if err == nil {
		switch reason {
		case dropBufferFull:
			err = fmt.Errorf("the join buffer is full (logs::max_buffered_bytes %d); the oldest content waiting for its span was dropped", e.cfg.Logs.MaxBufferedBytes)
		case dropShutdown:
			err = errors.New("the collector shut down before their span was stored")
		default:
			err = errors.New(reason)
		}
	}
	e.logDrops.log(failure{reason: reason, err: err}, n)
}

// joinRemote brings each content to its span over the API. Contents whose
// span is not stored yet, and those that failed in a retryable way, are
// returned as the log records to retry.
func (e *opperExporter) joinRemote(ctx context.Context, ld plog.Logs, contents []translator.LogContent) error {
	type result struct {
		f        *failure
		notFound bool
	}
	results := make([]result, len(contents))
	// Each content is a GET and a PATCH; the requests in flight are
	// bounded by max_concurrency anyway.
	concurrently(len(contents), e.cfg.MaxConcurrency, func(i int) {
		notFound, f := e.fillRemote(ctx, &contents[i])
		results[i] = result{f: f, notFound: notFound}
	})

	now := time.Now()
	retryIDs := map[string]bool{}
	var retryErr error
	var retryDelay time.Duration
	for i, r := range results {
		lc := &contents[i]
		switch {
		case r.notFound:
			first := e.logWaits.getOrPut(lc.SpanID, now)
			if !e.retryEnabled || now.Sub(first) >= e.cfg.Logs.SpanWait {
				e.logWaits.remove(lc.SpanID)
				e.dropLogs(ctx, dropSpanNotFound, lc.Records,
					fmt.Errorf("span %s of trace %s was not stored within logs::span_wait (%v, or retry_on_failure is off)", lc.SpanID, lc.TraceID, e.cfg.Logs.SpanWait))
				continue
			}
			retryIDs[lc.SpanID] = true
			if retryErr == nil {
				retryErr = errSpanNotStored
			}
		case r.f == nil:
			e.logWaits.remove(lc.SpanID)
			e.telemetry.ExporterOpperLogRecordsJoined.Add(ctx, int64(lc.Records))
		case r.f.retry:
			retryIDs[lc.SpanID] = true
			if retryErr == nil || errors.Is(retryErr, errSpanNotStored) || r.f.delay > retryDelay {
				retryErr, retryDelay = r.f.err, r.f.delay
			}
		default:
			e.logWaits.remove(lc.SpanID)
			e.dropLogs(ctx, dropRejected, lc.Records, r.f.err)
		}
	}
	if len(retryIDs) == 0 {
		return nil
	}
	retry := logsOfSpans(ld, retryIDs)
	return consumererror.NewLogs(fmt.Errorf("GenAI log records of %d of %d spans will be retried: %w", len(retryIDs), len(contents), retryErr), retry)
}

// fillRemote reads the span back and completes it with PATCH; notFound
// when it is not stored yet (or is still a placeholder parent).
func (e *opperExporter) fillRemote(ctx context.Context, lc *translator.LogContent) (notFound bool, _ *failure) {
	u := e.spansURL + "/" + url.PathEscape(lc.SpanID)
	r, err := e.call(ctx, opSpanGet, http.MethodGet, u, nil, maxDataResponseReadBytes)
	if err != nil {
		f := networkFailure(err)
		return false, &f
	}
	if r.status == http.StatusNotFound {
		return true, nil
	}
	if !isSuccess(r.status) {
		f := classify("get span", u, r)
		return false, &f
	}
	s, err := decodeStoredSpanV2(r.body)
	if err != nil {
		f := failure{retry: true, err: fmt.Errorf("get span: %s: invalid response: %w", u, err)}
		return false, &f
	}
	if placeholder, _ := s.Meta.Get("placeholder"); placeholder == true {
		return true, nil
	}
	content := *lc
	content.Metrics = nil // posted through the metrics endpoint, below
	if content.Fill(&s) {
		r, err := e.call(ctx, opSpanUpdate, http.MethodPatch, u, updateBody(&s), 0)
		if err != nil {
			f := networkFailure(err)
			return false, &f
		}
		if r.status == http.StatusNotFound {
			return true, nil // deleted between the two calls
		}
		if !isSuccess(r.status) {
			f := classify("update span", u, r)
			return false, &f
		}
	}
	return false, e.postMissingMetrics(ctx, lc.SpanID, lc.Metrics)
}

// decodeStoredSpanV2 reads a v2 span as GET returns it, the way the
// receiver reads a create: structured fields back out of meta.
func decodeStoredSpanV2(body []byte) (translator.Span, error) {
	var sp opperapi.Span
	if err := json.Unmarshal(body, &sp); err != nil {
		return translator.Span{}, err
	}
	return translator.FromCreateV2(&opperapi.CreateSpanRequest{
		Name: sp.Name, ID: &sp.ID, TraceID: sp.TraceID, ParentID: sp.ParentID, Type: sp.Type,
		StartTime: sp.StartTime, EndTime: sp.EndTime, Input: sp.Input, Output: sp.Output,
		Error: sp.Error, Meta: sp.Meta, Score: sp.Score,
	})
}

// logsOfSpans copies the GenAI records of ld that belong to the spans ids
// (Opper span ids), with their resources and scopes.
func logsOfSpans(ld plog.Logs, ids map[string]bool) plog.Logs {
	out := plog.NewLogs()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var dstRL plog.ResourceLogs
		haveRL := false
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			var dstSL plog.ScopeLogs
			haveSL := false
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if lr.TraceID().IsEmpty() || lr.SpanID().IsEmpty() || !translator.IsGenAIEvent(lr) ||
					!ids[translator.SpanUUID(lr.TraceID(), lr.SpanID())] {
					continue
				}
				if !haveRL {
					dstRL = out.ResourceLogs().AppendEmpty()
					rl.Resource().CopyTo(dstRL.Resource())
					dstRL.SetSchemaUrl(rl.SchemaUrl())
					haveRL = true
				}
				if !haveSL {
					dstSL = dstRL.ScopeLogs().AppendEmpty()
					sl.Scope().CopyTo(dstSL.Scope())
					dstSL.SetSchemaUrl(sl.SchemaUrl())
					haveSL = true
				}
				lr.CopyTo(dstSL.LogRecords().AppendEmpty())
			}
		}
	}
	return out
}
