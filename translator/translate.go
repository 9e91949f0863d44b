package translator

import (
	"encoding/json"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Retention says what content leaves the collector or is stored.
type Retention string

const (
	// RetentionMetadata drops input, output, instructions and message
	// content; structure, models, tokens, cost and errors are kept.
	RetentionMetadata Retention = "metadata"
	// RetentionFull keeps content.
	RetentionFull Retention = "full"
)

// Valid reports whether r is a known retention.
func (r Retention) Valid() bool { return r == RetentionMetadata || r == RetentionFull }

// RetentionRule sets the retention of spans whose resource attributes
// equal every entry of Match.
type RetentionRule struct {
	Match     map[string]string
	Retention Retention
}

// Options configure a Translator. The zero value is usable: metadata
// retention, no field limit, default type `function`, embedded prices.
type Options struct {
	Retention      Retention
	RetentionRules []RetentionRule
	// MaxFieldBytes caps input, output and instructions; longer content is
	// cut on a UTF-8 boundary and the cut recorded in meta.truncated. Zero
	// means no limit.
	MaxFieldBytes int
	// MaxOTelMetaBytes caps the unconsumed OTel attributes kept under
	// meta.otel. Zero means DefaultMaxOTelMetaBytes; negative, no limit.
	MaxOTelMetaBytes int
	// DefaultType is the type of spans without GenAI evidence.
	DefaultType string
	// TypeMap renames types after they are decided (e.g. embedding ->
	// generation for a UI that only knows a fixed set).
	TypeMap map[string]string
	// Prices computes cost where a span carries none; nil means the
	// embedded table.
	Prices *PriceTable
}

// DefaultMaxOTelMetaBytes is the default size cap of meta.otel.
const DefaultMaxOTelMetaBytes = 16 << 10

// Translator maps OTLP traces to Opper spans. It is safe for concurrent use.
type Translator struct {
	opts Options
	// costSource marks costs computed from opts.Prices.
	costSource string
}

// New returns a Translator for opts.
func New(opts Options) *Translator {
	if opts.Retention == "" {
		opts.Retention = RetentionMetadata
	}
	if opts.DefaultType == "" {
		opts.DefaultType = TypeFunction
	}
	if opts.Prices == nil {
		opts.Prices = DefaultPrices()
	}
	if opts.MaxOTelMetaBytes == 0 {
		opts.MaxOTelMetaBytes = DefaultMaxOTelMetaBytes
	}
	return &Translator{opts: opts, costSource: "computed:" + opts.Prices.Version}
}

// mapState is what mapping reuses from batch to batch: the attribute view
// with its key cache, and scratch buffers. Pooled, so a translator shared
// by an exporter's workers gives each its own.
type mapState struct {
	view    *attrView
	obj     objectBuilder
	scratch []byte
	raw     []rawSpanID
	prices  priceMemo
	// byRaw is markAggregates' index, empty between uses.
	byRaw map[rawKey]int32
	flat  flatBuilder
}

var mapStates = sync.Pool{New: func() any { return &mapState{view: newAttrView(), byRaw: map[rawKey]int32{}} }}

func (st *mapState) release() {
	st.view.clearRefs()
	st.prices = priceMemo{}
	st.obj.reset()
	if len(st.byRaw) > 1<<16 {
		st.byRaw = map[rawKey]int32{} // a huge batch should not pin its index
	} else {
		clear(st.byRaw)
	}
	if cap(st.scratch) > 1<<20 {
		// One huge span should not pin its buffer.
		st.scratch = nil
	}
	mapStates.Put(st)
}

// spanCtx is the state of mapping one span.
type spanCtx struct {
	a         *attrView
	events    ptrace.SpanEventSlice
	eventUsed []bool
	scopeMeta json.RawMessage
	out       *Span
	otel      *otelMeta // in the batch's slab
	// retention decides whether content is mapped at all.
	retention Retention
	// raw is the span's OTLP ids, for aggregate marking.
	raw *rawSpanID
	// prices remembers the last models priced.
	prices *priceMemo
	// arena holds what the batch's spans keep; scratch and obj are reused.
	arena   *arena
	scratch []byte
	obj     *objectBuilder
	flat    *flatBuilder
}

// setMeta sets a meta field of the span being mapped, in its window of
// the arena while there is room (see arena.metaWindow).
func (c *spanCtx) setMeta(key string, v any) {
	m := c.out.Meta
	for i := range m {
		if m[i].Key == key {
			m[i].Value = v
			return
		}
	}
	if len(m) == cap(m) {
		c.out.Meta.Set(key, v)
		return
	}
	i := insertPos(m, key)
	m = m[:len(m)+1]
	copy(m[i+1:], m[i:])
	m[i] = MetaField{key, v}
	c.out.Meta = m
}

// ToOpper maps every span of td to an Opper span, in the order of td.
// Spans are never dropped: a span without GenAI evidence becomes a
// `function` span, so trees stay whole.
func (t *Translator) ToOpper(td ptrace.Traces) []Span {
	var b Batch
	t.Map(&b, td)
	return b.Spans
}

// Batch holds the spans of one mapping together with the storage they
// point into (their meta.otel, meta fields, pre-encoded JSON, usages and
// costs). A caller that maps batch after batch, as the exporter does,
// reuses one Batch instead of allocating all of it again each time.
type Batch struct {
	Spans []Span

	otel  []otelMeta
	arena arena
}

// Map replaces b.Spans by the spans of td, as ToOpper maps them. It reuses
// the storage of b's previous spans: the caller must be done with them,
// and must not keep anything they refer to, except strings, which are
// never reused.
func (t *Translator) Map(b *Batch, td ptrace.Traces) {
	n := td.SpanCount()
	prev := len(b.Spans)
	out := slices.Grow(b.Spans[:0], n)
	defer func() {
		// Slots the last batch used and this one did not.
		if prev > len(out) {
			clear(out[len(out):prev])
		}
		b.Spans = out
	}()
	st := mapStates.Get().(*mapState)
	defer st.release()
	view, obj := st.view, &st.obj
	raw := slices.Grow(st.raw[:0], n)
	defer func() { st.raw = raw[:0] }()
	ar := &b.arena
	ar.reset()
	scratch := st.scratch
	defer func() { st.scratch = scratch[:0] }()
	c := new(spanCtx)
	resources := resourceCache{}
	// meta.otel of every span, in one allocation.
	if cap(b.otel) < n {
		b.otel = make([]otelMeta, n)
	}
	otelSlab := b.otel[:n]
	position := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		resource := rs.Resource().Attributes()
		var rf *resourceFacts
		rf, scratch = resources.facts(t, ar, scratch, resource)
		retention, resourceMeta := rf.retention, rf.meta
		env, version, envAny, versionAny := rf.env, rf.version, rf.envAny, rf.versionAny
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			var scopeMeta json.RawMessage
			scopeMeta, scratch = scopeJSON(ar, scratch, ss.Scope())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				// The span is built in place in the result, and one context
				// serves every span: neither costs an allocation per span.
				out = append(out, Span{})
				s := &out[len(out)-1]
				otel := &otelSlab[len(out)-1]
				*otel = otelMeta{}
				s.Meta = ar.metaWindow()
				raw = append(raw, rawSpanID{})
				*c = spanCtx{a: view, scopeMeta: scopeMeta, out: s, otel: otel, raw: &raw[len(raw)-1], prices: &st.prices,
					retention: retention, arena: ar, scratch: scratch, obj: obj, flat: &st.flat}
				t.mapSpan(c, spans.At(k), position)
				scratch = c.scratch
				position++
				if env != "" {
					if !s.Meta.Has("environment") {
						c.setMeta("environment", envAny)
					}
				}
				if version != "" {
					if !s.Meta.Has("version") {
						c.setMeta("version", versionAny)
					}
				}
				otel.resource = resourceMeta
				c.setMeta("otel", otel.capped(t.opts.MaxOTelMetaBytes))
				ApplyRetention(s, retention)
				TruncateContent(s, t.opts.MaxFieldBytes)
				s.Meta = ar.keepMeta(s.Meta)
			}
		}
	}
	markAggregates(out, raw, st.byRaw)
}

// resourceFacts is what the spans of a resource share: their retention,
// meta.otel.resource, environment and version.
type resourceFacts struct {
	attrs              pcommon.Map
	retention          Retention
	meta               json.RawMessage
	env, version       string
	envAny, versionAny any
}

// resourceCache finds the facts of a resource seen earlier in the batch.
// A batch assembled by the collector holds one ResourceSpans per export
// request that went into it, so the same resource comes many times;
// hashing it and checking equality costs less than encoding it again.
type resourceCache map[uint64][]*resourceFacts

// maxCachedResourceAttrs leaves out of the cache resources whose equality
// check (quadratic in pdata) would cost more than encoding them.
const maxCachedResourceAttrs = 64

var resourceSeed = maphash.MakeSeed()

func (rc resourceCache) facts(t *Translator, ar *arena, scratch []byte, resource pcommon.Map) (*resourceFacts, []byte) {
	cacheable := resource.Len() <= maxCachedResourceAttrs
	var h uint64
	if cacheable {
		h = hashMap(resource)
		for _, rf := range rc[h] {
			if rf.attrs.Equal(resource) {
				return rf, scratch
			}
		}
	}
	rf := &resourceFacts{attrs: resource, retention: t.retentionFor(resource)}
	rf.meta, scratch = mapJSON(ar, scratch, resource)
	rf.env, _ = firstResourceStr(resource, "deployment.environment.name", "deployment.environment")
	rf.version, _ = firstResourceStr(resource, "service.version")
	// Boxed once for all spans of the resource.
	rf.envAny, rf.versionAny = any(rf.env), any(rf.version)
	if cacheable {
		rc[h] = append(rc[h], rf)
	}
	return rf, scratch
}

// hashMap hashes the keys and scalar values of m, in order; structured
// values count by type only (equality is checked after).
func hashMap(m pcommon.Map) uint64 {
	var h maphash.Hash
	h.SetSeed(resourceSeed)
	for k, v := range m.All() {
		h.WriteString(k)
		h.WriteByte(byte(v.Type()))
		switch v.Type() {
		case pcommon.ValueTypeStr:
			h.WriteString(v.Str())
		case pcommon.ValueTypeInt:
			maphash.WriteComparable(&h, v.Int())
		case pcommon.ValueTypeDouble:
			maphash.WriteComparable(&h, v.Double())
		case pcommon.ValueTypeBool:
			maphash.WriteComparable(&h, v.Bool())
		}
	}
	return h.Sum64()
}

func firstResourceStr(m pcommon.Map, keys ...string) (string, bool) {
	for _, k := range keys {
		if v, ok := m.Get(k); ok && v.Str() != "" {
			return v.Str(), true
		}
	}
	return "", false
}

func (t *Translator) retentionFor(resource pcommon.Map) Retention {
rules:
	for _, r := range t.opts.RetentionRules {
		for k, want := range r.Match {
			v, ok := resource.Get(k)
			if !ok || v.AsString() != want {
				continue rules
			}
		}
		return r.Retention
	}
	return t.opts.Retention
}

func (t *Translator) mapSpan(c *spanCtx, span ptrace.Span, position int) {
	s := c.out
	c.a.reset(span.Attributes())
	c.events = span.Events()
	c.eventUsed = slices.Grow(c.a.eventUsed[:0], c.events.Len())[:c.events.Len()]
	clear(c.eventUsed)
	c.a.eventUsed = c.eventUsed

	tid, sid := span.TraceID(), span.SpanID()
	if tid.IsEmpty() || sid.IsEmpty() {
		tid, sid = syntheticIDs(span, position)
		c.otel.syntheticID = true
	}
	parent := span.ParentSpanID()
	s.TraceID, s.ID, s.ParentID = spanUUIDs(tid, sid, parent)
	*c.raw = rawSpanID{id: rawKey{tid, sid}, parent: parent, exact: true}
	if v, ok := c.a.str(kOpperSpanID); ok {
		s.ID = CanonicalID(v)
		c.raw.exact = false
	}
	if v, ok := c.a.str(kOpperTraceID); ok {
		s.TraceID = CanonicalID(v)
		c.raw.exact = false
	}
	if v, ok := c.a.str(kOpperParentID); ok {
		s.ParentID = CanonicalID(v)
		c.raw.exact = false
	}
	if b, ok := c.a.get(kLangfuseInternalAsRoot); ok && b.Bool() {
		s.ParentID = ""
		c.raw.exact = false
	}

	s.StartTime = span.StartTimestamp().AsTime().UTC()
	if end := span.EndTimestamp(); end != 0 {
		s.EndTime = end.AsTime().UTC()
		if s.EndTime.Before(s.StartTime) {
			// Clock skew between processes: keep the span, with its end
			// clamped, and say so.
			c.otel.endBeforeStartNs = int64(span.StartTimestamp() - end)
			s.EndTime = s.StartTime
		}
	}
	if span.StartTimestamp() == 0 {
		s.StartTime = time.Time{}
	}

	d := decideType(c.a, t.opts.DefaultType)
	s.Type = d.typ
	if mapped, ok := t.opts.TypeMap[s.Type]; ok && mapped != "" {
		s.Type = mapped
	}
	otel := c.otel
	otel.typeSource, otel.typeSourceValue = d.source, d.sourceValue
	otel.spanKind = spanKindName(span.Kind())
	if d.subtype != "" {
		c.setMeta("subtype", d.subtype)
	}
	if d.subtype == "event" {
		s.EndTime = s.StartTime
	}
	otel.scope = c.scopeMeta
	if n := span.DroppedAttributesCount(); n > 0 {
		otel.droppedAttributes = int64(n)
	}
	if n := span.DroppedEventsCount(); n > 0 {
		otel.droppedEvents = int64(n)
	}

	s.Name = spanName(c, span.Name(), d.typ)
	c.mapContent(d.typ)
	c.mapModel(d)
	c.mapUsageAndCost(d, t.opts.Prices, t.costSource)
	c.mapError(span.Status())
	c.mapIdentity()
	c.mapMetrics()
	c.mapTiming()
	c.mapOpperMeta()
	if n, ok := c.a.int(kOpperScore); ok {
		score := n
		s.Score = &score
	}

	otel.attributes, c.scratch = c.a.unusedJSON(c.arena, c.scratch)
	if c.retention == RetentionFull {
		// Unconsumed events may hold message content.
		otel.events = c.unusedEvents(span)
	}
	if span.Links().Len() > 0 {
		otel.links = appendJSON(nil, linksToAny(span.Links()))
	}
	otel.traceState = span.TraceState().AsRaw()
	if st := span.Status(); st.Code() == ptrace.StatusCodeOk {
		otel.statusCode = "OK"
	}
}

// scopeJSON encodes a scope as {"name","version"} into the arena, nil
// without a name.
func scopeJSON(ar *arena, scratch []byte, scope pcommon.InstrumentationScope) (json.RawMessage, []byte) {
	name := strings.TrimSpace(scope.Name())
	if name == "" {
		return nil, scratch
	}
	b := append(scratch[:0], `{"name":`...)
	b = appendJSONString(b, name)
	if v := scope.Version(); v != "" {
		b = append(b, `,"version":`...)
		b = appendJSONString(b, v)
	}
	b = append(b, '}')
	return ar.json(b), b
}

func spanKindName(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindInternal:
		return "INTERNAL"
	case ptrace.SpanKindServer:
		return "SERVER"
	case ptrace.SpanKindClient:
		return "CLIENT"
	case ptrace.SpanKindProducer:
		return "PRODUCER"
	case ptrace.SpanKindConsumer:
		return "CONSUMER"
	}
	return "UNSPECIFIED"
}

// genericToolNames are span names that say only "a tool ran"; the tool's
// own name is better.
var genericToolNames = map[string]bool{"ai.toolCall": true, "execute_tool": true, "running tool": true, "function_tool": true, "tool": true, "": true}

// spanName keeps the OTel span name, which users chose and search by,
// unless it is generic and a better one exists (genai-mapping.md b.2).
func spanName(c *spanCtx, name, typ string) string {
	if typ == TypeTool && genericToolNames[name] {
		if v := c.a.peekStr(kGenAiToolName); v != "" {
			return v
		}
		if v := c.a.peekStr(kToolName); v != "" {
			return v
		}
		if v := c.a.peekStr(kAiToolCallName); v != "" {
			return v
		}
	}
	if name == "invoke_agent" {
		if v := c.a.peekStr(kGenAiAgentName); v != "" {
			return "invoke_agent " + v
		}
	}
	if name == "" {
		return typ
	}
	return name
}

// mapOpperMeta merges opper.meta, the meta of a span that came from an
// Opper SDK through the receiver, so a round trip keeps it.
func (c *spanCtx) mapOpperMeta() {
	v, ok := c.a.get(kOpperMeta)
	if !ok {
		return
	}
	parsed, ok := valueJSON(v)
	m, isMap := parsed.(map[string]any)
	if !ok || !isMap {
		return
	}
	for k, val := range m {
		switch k {
		case MetaInputJSON:
			c.out.InputJSON, _ = val.(bool)
		case MetaOutputJSON:
			c.out.OutputJSON, _ = val.(bool)
		default:
			if !c.out.Meta.Has(k) {
				c.setMeta(k, val)
			}
		}
	}
}

// unusedEvents encodes the span events no mapping consumed, or nil.
func (c *spanCtx) unusedEvents(span ptrace.Span) json.RawMessage {
	var b []byte
	for i := 0; i < c.events.Len(); i++ {
		if c.eventUsed[i] {
			continue
		}
		ev := c.events.At(i)
		// Per-chunk streaming events are noise in meta.
		if strings.HasSuffix(ev.Name(), ".content.completion.chunk") {
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, 256), '[')
		} else {
			b = append(b, ',')
		}
		b = append(b, '{')
		if ev.Attributes().Len() > 0 {
			b = append(b, `"attributes":`...)
			b = appendMap(b, ev.Attributes(), 0)
			b = append(b, ',')
		}
		b = append(b, `"name":`...)
		b = appendJSONString(b, ev.Name())
		b = append(b, `,"time":"`...)
		b = ev.Timestamp().AsTime().UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	if b == nil {
		return nil
	}
	return append(b, ']')
}

func linksToAny(links ptrace.SpanLinkSlice) []any {
	out := make([]any, links.Len())
	for i := range out {
		l := links.At(i)
		e := map[string]any{"trace_id": TraceUUID(l.TraceID()), "span_id": SpanUUID(l.TraceID(), l.SpanID())}
		if attrs := mapToAny(l.Attributes()); attrs != nil {
			e["attributes"] = attrs
		}
		out[i] = e
	}
	return out
}
