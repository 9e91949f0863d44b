package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/opperotel/bridge/exporter/opperexporter/internal/metadata"
	"github.com/opperotel/bridge/extension/opperstorageextension"
	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// Sizes of the exporter's bounded in-memory state.
// What the drop loggers say, at most once a minute per reason.
const (
	spanDropMessage = "Opper API rejected spans permanently; they are dropped (logged at most once per minute per reason)"
	logDropMessage  = "GenAI log records dropped before their content reached the span (logged at most once per minute per reason)"
)

const (
	orphanMapSize  = 1 << 16 // spans held back for their parent: when they were first held
	idMapSpanSize  = 1 << 17 // v3: translator span id -> server ids
	idMapTraceSize = 1 << 15 // v3: translator trace id -> server trace id
	dropLogEvery   = time.Minute
)

// aggregateMemory is how many recent spans the aggregate tracker keeps:
// enough for the parents still to come of the children a few batches have
// sent, at about 40 bytes each.
const aggregateMemory = 100_000

type opperExporter struct {
	cfg      *Config
	id       component.ID
	settings component.TelemetrySettings
	logger   *zap.Logger
	tr       *translator.Translator
	// aggregates remembers recent spans with usage-bearing descendants.
	aggregates *translator.AggregateTracker
	telemetry  *metadata.TelemetryBuilder
	reqAttrs   *requestAttrs
	dropAttrs  sync.Map // reason -> metric.AddOption
	drops      *dropLogger
	logDrops   *dropLogger

	client        *http.Client
	userAgent     string
	authorization string
	spansURL      string // POST /v2/spans, and /v2/spans/{id}
	bulkURL       string
	spansV3URL    string

	sem       chan struct{} // max_concurrency requests in flight
	bulkState atomic.Int32  // bulkUnknown, bulkSupported, bulkUnsupported
	// bulkBodySize is the size of the last full bulk body: new bodies start
	// with that capacity instead of growing to it by doubling.
	bulkBodySize atomic.Int64
	retryEnabled bool

	inflight *inflight
	orphans  *lru[time.Time] // child span id -> first time its parent was missing
	ids      *idMap          // v3 only

	// store is the opper_storage extension's store in storage mode.
	store store.Store

	// GenAI log records (logs.go): the content waiting for its span
	// (storage mode), and when each span was first found missing
	// (endpoint mode).
	joinsLogs atomic.Bool // a logs pipeline uses this exporter
	joins     *joinBuffer
	joined    *lru[struct{}] // spans filled from records: a rewrite keeps their content
	written   *recentSpans   // spans this exporter stored lately
	logWaits  *lru[time.Time]
	waiting   waitingGauge
	stopSweep chan struct{}
	sweepDone chan struct{}
}

const (
	bulkUnknown int32 = iota
	bulkSupported
	bulkUnsupported
)

func newExporter(cfg *Config, set exporter.Settings) (*opperExporter, error) {
	prices, err := translator.LoadPrices(cfg.PriceTable)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(cfg.ClientConfig.Endpoint, "/")
	e := &opperExporter{
		cfg:          cfg,
		id:           set.ID,
		settings:     set.TelemetrySettings,
		logger:       set.Logger,
		tr:           translator.New(cfg.translatorOptions(prices)),
		aggregates:   translator.NewAggregateTracker(aggregateMemory),
		telemetry:    tb,
		reqAttrs:     newRequestAttrs(),
		drops:        newDropLogger(set.Logger, dropLogEvery, spanDropMessage),
		logDrops:     newDropLogger(set.Logger, dropLogEvery, logDropMessage),
		userAgent:    fmt.Sprintf("%s/%s (%s/%s)", set.BuildInfo.Description, set.BuildInfo.Version, runtime.GOOS, runtime.GOARCH),
		spansURL:     base + opperapi.PathV2Spans,
		bulkURL:      base + opperapi.PathV2SpansBatch,
		spansV3URL:   base + opperapi.PathV3Spans,
		sem:          make(chan struct{}, cfg.MaxConcurrency),
		retryEnabled: cfg.RetryConfig.Enabled,
		inflight:     newInflight(),
		orphans:      newLRU[time.Time](orphanMapSize),
		joins:        newJoinBuffer(cfg.Logs.MaxBufferedBytes, cfg.Logs.SpanWait),
		logWaits:     newLRU[time.Time](orphanMapSize),
		joined:       newLRU[struct{}](orphanMapSize),
		written:      newRecentSpans(),
	}
	if key := string(cfg.APIKey); key != "" {
		if len(key) > 7 && strings.EqualFold(key[:7], "bearer ") {
			e.authorization = key
		} else {
			e.authorization = "Bearer " + key
		}
	}
	if cfg.APIVersion == APIVersionV3 {
		e.ids = newIDMap(idMapSpanSize, idMapTraceSize)
	}
	if cfg.Bulk == BulkOff || cfg.APIVersion == APIVersionV3 {
		e.bulkState.Store(bulkUnsupported)
	}
	return e, nil
}

func (e *opperExporter) start(ctx context.Context, host component.Host) error {
	if e.cfg.Storage != nil {
		st, err := opperstorageextension.GetStore(host, *e.cfg.Storage, e.id)
		if err != nil {
			return err
		}
		e.store = st
		e.logger.Info("Writing spans into the trace store", zap.Stringer("storage", e.cfg.Storage), zap.String("project", e.cfg.Project))
		if e.joinsLogs.Load() {
			e.stopSweep, e.sweepDone = make(chan struct{}), make(chan struct{})
			go e.sweepLoop()
		}
		return nil
	}
	client, err := e.cfg.ClientConfig.ToClient(ctx, host.GetExtensions(), e.settings)
	if err != nil {
		return err
	}
	e.client = client
	return nil
}

func (e *opperExporter) shutdown(ctx context.Context) error {
	e.stopJoining(ctx)
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	e.telemetry.Shutdown()
	return nil
}

// outcome is what became of one span in a push.
type outcome uint8

const (
	pending outcome = iota
	sent
	dropped
	retry
)

// batch is one push: the translated spans, their tree inside the batch,
// and each span's outcome.
type batch struct {
	spans  []translator.Span
	state  []outcome
	parent []int32 // index of the parent inside the batch, -1 if none
	// children of span i are childList[childStart[i]:childStart[i+1]].
	childStart []int32
	childList  []int32
	order      []int32 // parents before children (breadth first)
	depth      []int32

	mu         sync.Mutex
	retryErr   error
	retryDelay time.Duration
	dropErr    error
}

func newBatch(spans []translator.Span) *batch {
	n := len(spans)
	b := &batch{spans: spans, state: make([]outcome, n), parent: make([]int32, n), depth: make([]int32, n)}
	index := make(map[string]int32, n)
	for i := range spans {
		index[spans[i].ID] = int32(i)
	}
	for i := range spans {
		b.parent[i] = -1
		if p, ok := index[spans[i].ParentID]; ok && spans[i].ParentID != "" && int(p) != i {
			b.parent[i] = p
		}
	}
	b.buildChildren()
	// Breadth-first from all roots at once, so order is sorted by depth.
	// Spans left over sit on a parent cycle (malformed input): cut the
	// cycle there and go on.
	seen := make([]bool, n)
	b.order = make([]int32, 0, n)
	bfs := func(start int) {
		for k := start; k < len(b.order); k++ {
			i := b.order[k]
			for _, c := range b.children(i) {
				if !seen[c] {
					seen[c] = true
					b.depth[c] = b.depth[i] + 1
					b.order = append(b.order, c)
				}
			}
		}
	}
	for i := range n {
		if b.parent[i] < 0 {
			seen[i] = true
			b.order = append(b.order, int32(i))
		}
	}
	bfs(0)
	if len(b.order) < n {
		for i := range n {
			if !seen[i] {
				b.parent[i] = -1
				b.depth[i] = 0
				seen[i] = true
				start := len(b.order)
				b.order = append(b.order, int32(i))
				bfs(start)
			}
		}
		b.buildChildren()
		// The cut spans start new depth runs; re-sort by depth (stable).
		slices.SortStableFunc(b.order, func(x, y int32) int { return int(b.depth[x] - b.depth[y]) })
	}
	return b
}

func (b *batch) buildChildren() {
	n := len(b.spans)
	b.childStart = make([]int32, n+1)
	for _, p := range b.parent {
		if p >= 0 {
			b.childStart[p+1]++
		}
	}
	for i := 1; i <= n; i++ {
		b.childStart[i] += b.childStart[i-1]
	}
	b.childList = make([]int32, b.childStart[n])
	fill := make([]int32, n)
	for i, p := range b.parent {
		if p >= 0 {
			b.childList[b.childStart[p]+fill[p]] = int32(i)
			fill[p]++
		}
	}
}

func (b *batch) children(i int32) []int32 {
	return b.childList[b.childStart[i]:b.childStart[i+1]]
}

// fail records a retryable error; the one with the longest Retry-After wins.
func (b *batch) fail(f failure) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retryErr == nil || f.delay > b.retryDelay {
		b.retryErr, b.retryDelay = f.err, f.delay
	}
}

// markRetry sets every pending descendant of i to retry: a child is not
// sent when its parent must be retried, it goes with it. It returns the
// number of descendants of i, marked now or before (by the bulk path, which
// marks the descendants of a failed chunk's spans): none of them is sent
// after i, so runOrdered counts them all as done with i.
func (b *batch) markRetry(i int32) int {
	n := 0
	for _, c := range b.children(i) {
		if b.state[c] == pending {
			b.state[c] = retry
		}
		n += 1 + b.markRetry(c)
	}
	return n
}

// batches holds the translator's storage between pushes: mapping into a
// reused Batch spares the collector most of what translation allocates.
var batches = sync.Pool{New: func() any { return new(translator.Batch) }}

// maxPooledSpans keeps a batch far above the default batch size from
// pinning its storage in the pool.
const maxPooledSpans = 2 * defaultBatchMaxSize

func (e *opperExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	return e.withSpans(td, func(spans []translator.Span) error {
		if e.store != nil {
			return e.writeStore(ctx, spans)
		}
		return e.send(ctx, td, spans)
	})
}

// withSpans maps td into a pooled batch, marks aggregates, and hands the
// spans to fn; the batch goes back to the pool when fn returns, so fn must
// not keep them (the HTTP paths have ended every request by then, and the
// store has encoded or copied what it keeps).
func (e *opperExporter) withSpans(td ptrace.Traces, fn func([]translator.Span) error) error {
	mapped := batches.Get().(*translator.Batch)
	defer func() {
		if cap(mapped.Spans) <= maxPooledSpans {
			batches.Put(mapped)
		}
	}()
	e.tr.Map(mapped, td)
	if len(mapped.Spans) == 0 {
		return nil
	}
	// Children usually went out in an earlier batch: their parents' usage
	// may be an aggregate that this batch alone cannot show.
	e.aggregates.Mark(mapped.Spans)
	return fn(mapped.Spans)
}

// send sends one push's spans over HTTP.
func (e *opperExporter) send(ctx context.Context, td ptrace.Traces, spans []translator.Span) error {
	b := newBatch(spans)
	switch {
	case e.cfg.APIVersion == APIVersionV3:
		e.runOrdered(ctx, b, e.sendSpanV3)
	case e.bulkState.Load() != bulkUnsupported:
		e.pushBulk(ctx, b)
		// Spans the bulk path left pending (the endpoint turned out not to
		// exist) go one by one.
		e.runOrdered(ctx, b, e.sendSpanV2)
	default:
		e.runOrdered(ctx, b, e.sendSpanV2)
	}
	return e.result(ctx, td, b)
}

// runOrdered sends every pending span of b with send, at most
// max_concurrency at a time, each span only after its parent in the batch
// is done; the children of a span that must be retried are retried with it.
func (e *opperExporter) runOrdered(ctx context.Context, b *batch, send func(context.Context, *batch, int32) outcome) {
	n := len(b.spans)
	if n == 0 {
		return
	}
	ready := make(chan int32, n)
	var remaining atomic.Int64
	remaining.Store(int64(n))
	finish := func(i int32, st outcome) {
		b.state[i] = st
		done := int64(1)
		if st == retry {
			done += int64(b.markRetry(i))
		} else {
			for _, c := range b.children(i) {
				ready <- c
			}
		}
		if remaining.Add(-done) == 0 {
			close(ready)
		}
	}
	for _, i := range b.order {
		if b.parent[i] < 0 {
			ready <- i
		}
	}
	workers := min(e.cfg.MaxConcurrency, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range ready {
				if st := b.state[i]; st != pending {
					finish(i, st) // settled earlier (bulk), or marked with its parent
					continue
				}
				finish(i, send(ctx, b, i))
			}
		})
	}
	wg.Wait()
}

// result turns the outcomes into the push's error: the spans to retry as a
// consumererror.Traces, so only they are sent again; a permanent error if
// every span was dropped; nil otherwise (partial drops are counted and
// logged, not failed).
func (e *opperExporter) result(ctx context.Context, td ptrace.Traces, b *batch) error {
	var nSent, nDropped, nRetry int
	for _, st := range b.state {
		switch st {
		case sent:
			nSent++
		case dropped:
			nDropped++
		case retry:
			nRetry++
		}
	}
	if nSent > 0 {
		e.telemetry.ExporterOpperSpansSent.Add(ctx, int64(nSent))
	}
	if nRetry > 0 {
		err := b.retryErr
		if err == nil {
			err = errors.New("spans must be retried")
		}
		return consumererror.NewTraces(fmt.Errorf("%d of %d spans will be retried: %w", nRetry, len(b.state), err), subset(td, b, retry))
	}
	if nDropped == len(b.state) {
		return consumererror.NewPermanent(fmt.Errorf("all %d spans dropped: %w", nDropped, b.dropErr))
	}
	return nil
}

// drop records that n spans were rejected permanently.
func (e *opperExporter) drop(ctx context.Context, b *batch, f failure, n int) outcome {
	opt, ok := e.dropAttrs.Load(f.reason)
	if !ok {
		opt, _ = e.dropAttrs.LoadOrStore(f.reason, metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", f.reason))))
	}
	e.telemetry.ExporterOpperSpansDropped.Add(ctx, int64(n), opt.(metric.AddOption))
	e.drops.log(f, n)
	b.mu.Lock()
	b.dropErr = f.err
	b.mu.Unlock()
	return dropped
}

// settle records a failure: retry or drop.
func (e *opperExporter) settle(ctx context.Context, b *batch, f failure) outcome {
	if f.retry {
		b.fail(f)
		return retry
	}
	return e.drop(ctx, b, f, 1)
}

// subset copies the spans of td whose outcome is st into new Traces, with
// their resources and scopes. Empty OTel ids are filled with the ids the
// translator derived, so a retry maps to the same Opper ids even though the
// span's position in the (smaller) batch changed.
func subset(td ptrace.Traces, b *batch, st outcome) ptrace.Traces {
	out := ptrace.NewTraces()
	k := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var dstRS ptrace.ResourceSpans
		haveRS := false
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			var dstSS ptrace.ScopeSpans
			haveSS := false
			spans := ss.Spans()
			for l := 0; l < spans.Len(); l++ {
				idx := k
				k++
				if b.state[idx] != st {
					continue
				}
				if !haveRS {
					dstRS = out.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(dstRS.Resource())
					dstRS.SetSchemaUrl(rs.SchemaUrl())
					haveRS = true
				}
				if !haveSS {
					dstSS = dstRS.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(dstSS.Scope())
					dstSS.SetSchemaUrl(ss.SchemaUrl())
					haveSS = true
				}
				span := dstSS.Spans().AppendEmpty()
				spans.At(l).CopyTo(span)
				if span.TraceID().IsEmpty() {
					span.SetTraceID(translator.OTelTraceID(b.spans[idx].TraceID))
				}
				if span.SpanID().IsEmpty() {
					span.SetSpanID(translator.OTelSpanID(b.spans[idx].ID))
				}
			}
		}
	}
	return out
}
