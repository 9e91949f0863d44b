// Package loadgen drives OTLP load at a collector for the end-to-end
// benchmark (internal/cmd/bench-e2e) and the durability tests (e2e): it
// builds OTLP/HTTP protobuf requests of whole traces in two shapes, sends
// them closed-loop while recording which traces were acknowledged, reads a
// process's CPU time and memory from /proc, and asks the receiver's API
// what it has stored.
package loadgen // import "github.com/opperotel/bridge/internal/loadgen"

import (
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/opperotel/bridge/translator"
)

// Shape is the kind of trace a load is made of.
type Shape string

const (
	// Plain traces are a service's: a root and nine children with about
	// ten small attributes each (HTTP and database).
	Plain Shape = "plain"
	// LLM traces are an agent's: an invoke_agent root, five chat
	// generations with 1-2 KB input and output messages and token usage,
	// and four execute_tool spans.
	LLM Shape = "llm"
)

// SpansPerTrace is the size of every generated trace.
const SpansPerTrace = 10

// ParseShape reads a shape name.
func ParseShape(s string) (Shape, error) {
	switch Shape(s) {
	case Plain, LLM:
		return Shape(s), nil
	}
	return "", fmt.Errorf("unknown load shape %q: use plain or llm", s)
}

// Request is one OTLP/HTTP export: its protobuf body and the Opper ids of
// the traces in it, all of whose spans it carries.
type Request struct {
	Body   []byte
	Traces []string
}

// Generator builds the requests of one load. Run distinguishes loads, so
// two runs against one store never share a trace id.
type Generator struct {
	Shape         Shape
	Run           uint32
	TracesPerReq  int
	start         time.Time
	contentCorpus []string
}

// NewGenerator returns a generator of requests of tracesPerReq traces.
func NewGenerator(shape Shape, run uint32, tracesPerReq int) *Generator {
	g := &Generator{Shape: shape, Run: run, TracesPerReq: tracesPerReq, start: time.Now().Add(-time.Minute)}
	if shape == LLM {
		g.contentCorpus = corpus()
	}
	return g
}

// Request builds request n (from 0): trace ids are unique per run and n.
func (g *Generator) Request(n int) Request {
	td, ids := g.Traces(n)
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(fmt.Sprintf("loadgen: marshal: %v", err)) // pdata always marshals
	}
	return Request{Body: body, Traces: ids}
}

// Traces builds request n's traces.
func (g *Generator) Traces(n int) (ptrace.Traces, []string) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	ss := rs.ScopeSpans().AppendEmpty()
	switch g.Shape {
	case LLM:
		res.PutStr("service.name", "bench-agent")
		ss.Scope().SetName("opentelemetry.instrumentation.openai_v2")
	default:
		res.PutStr("service.name", "bench-orders")
		ss.Scope().SetName("net/http")
	}
	res.PutStr("service.version", "1.4.2")
	res.PutStr("deployment.environment.name", "bench")
	spans := ss.Spans()
	spans.EnsureCapacity(g.TracesPerReq * SpansPerTrace)
	ids := make([]string, 0, g.TracesPerReq)
	for t := range g.TracesPerReq {
		tid := traceID(g.Run, n, t)
		ids = append(ids, translator.TraceUUID(tid))
		// Traces of one request start a millisecond apart, requests a
		// tenth of a second: the store sees a realistic spread of starts.
		base := g.start.Add(time.Duration(n)*100*time.Millisecond + time.Duration(t)*time.Millisecond)
		if g.Shape == LLM {
			g.llmTrace(spans, tid, base, n*g.TracesPerReq+t)
		} else {
			plainTrace(spans, tid, base, n*g.TracesPerReq+t)
		}
	}
	return td, ids
}

// traceID is unique per run, request and trace within its first 8 bytes,
// which also prefix the Opper ids of the trace's spans (translator.SpanUUID).
func traceID(run uint32, n, t int) pcommon.TraceID {
	var id pcommon.TraceID
	id[0], id[1] = byte(run>>8), byte(run)
	id[2], id[3], id[4], id[5] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	id[6], id[7] = byte(t>>8), byte(t)
	id[8], id[9], id[10], id[11] = byte(run>>24), byte(run>>16), byte(run>>8), byte(run)
	id[15] = 0x01 // never all zero
	return id
}

func spanID(i int) pcommon.SpanID { return pcommon.SpanID{0x0b, 0x5e, 0, 0, 0, 0, 0, byte(i + 1)} }

func plainTrace(spans ptrace.SpanSlice, tid pcommon.TraceID, base time.Time, seq int) {
	for i := range SpansPerTrace {
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(spanID(i))
		start := base.Add(time.Duration(i) * 2 * time.Millisecond)
		end := start.Add(time.Duration(40-3*i) * time.Millisecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
		a := sp.Attributes()
		if i == 0 {
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetName("GET /orders/{id}")
			a.PutStr("http.request.method", "GET")
			a.PutStr("http.route", "/orders/{id}")
			a.PutStr("url.path", fmt.Sprintf("/orders/%d", seq))
			a.PutInt("http.response.status_code", 200)
			a.PutStr("server.address", "orders.internal")
			a.PutInt("server.port", 8080)
			a.PutStr("user_agent.original", "bench/1.0")
			a.PutStr("client.address", "10.1.2.3")
			a.PutStr("network.protocol.version", "1.1")
			a.PutStr("url.scheme", "http")
			continue
		}
		sp.SetParentSpanID(spanID(0))
		sp.SetKind(ptrace.SpanKindClient)
		sp.SetName("SELECT orders")
		a.PutStr("db.system.name", "postgresql")
		a.PutStr("db.namespace", "shop")
		a.PutStr("db.operation.name", "SELECT")
		a.PutStr("db.collection.name", "orders")
		a.PutStr("db.query.text", "SELECT id, total FROM orders WHERE customer_id = $1")
		a.PutStr("server.address", "db.internal")
		a.PutInt("server.port", 5432)
		a.PutInt("db.response.returned_rows", int64(i))
		a.PutStr("network.peer.address", "10.1.9.9")
		a.PutStr("db.client.connection.pool.name", "primary")
	}
}

// llmTrace: root 0 invoke_agent; chats at 1, 3, 5, 7, 9; tools at 2, 4, 6, 8.
func (g *Generator) llmTrace(spans ptrace.SpanSlice, tid pcommon.TraceID, base time.Time, seq int) {
	for i := range SpansPerTrace {
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(spanID(i))
		start := base.Add(time.Duration(i) * 300 * time.Millisecond)
		end := start.Add(280 * time.Millisecond)
		if i == 0 {
			end = base.Add(SpansPerTrace * 300 * time.Millisecond)
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
		a := sp.Attributes()
		switch {
		case i == 0:
			sp.SetName("invoke_agent travel_planner")
			a.PutStr("gen_ai.operation.name", "invoke_agent")
			a.PutStr("gen_ai.agent.name", "travel_planner")
			a.PutStr("gen_ai.provider.name", "openai")
			a.PutStr("gen_ai.conversation.id", fmt.Sprintf("conv-%d", seq%1000))
		case i%2 == 1:
			sp.SetParentSpanID(spanID(0))
			sp.SetKind(ptrace.SpanKindClient)
			sp.SetName("chat gpt-4o-mini")
			a.PutStr("gen_ai.operation.name", "chat")
			a.PutStr("gen_ai.provider.name", "openai")
			a.PutStr("gen_ai.request.model", "gpt-4o-mini")
			a.PutStr("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
			a.PutStr("gen_ai.response.id", fmt.Sprintf("chatcmpl-%d-%d", seq, i))
			a.PutDouble("gen_ai.request.temperature", 0.2)
			a.PutInt("gen_ai.request.max_tokens", 512)
			a.PutInt("gen_ai.usage.input_tokens", int64(300+seq%200))
			a.PutInt("gen_ai.usage.output_tokens", int64(80+seq%50))
			a.PutEmptySlice("gen_ai.response.finish_reasons").AppendEmpty().SetStr("stop")
			a.PutStr("gen_ai.input.messages", g.messages(seq, i, "user"))
			a.PutStr("gen_ai.output.messages", g.messages(seq, i, "assistant"))
		default:
			sp.SetParentSpanID(spanID(0))
			sp.SetName("execute_tool search_flights")
			a.PutStr("gen_ai.operation.name", "execute_tool")
			a.PutStr("gen_ai.tool.name", "search_flights")
			a.PutStr("gen_ai.tool.call.id", fmt.Sprintf("call_%d_%d", seq, i))
			a.PutStr("gen_ai.tool.type", "function")
		}
	}
}

// messages is a GenAI semconv message list of 1-2 KB whose text varies
// with the trace and span, so no two spans store the same content.
func (g *Generator) messages(seq, i int, role string) string {
	var b strings.Builder
	n := 1000 + (seq*7+i*131)%1000 // text bytes: 1-2 KB in all
	text := g.contentCorpus[(seq+i)%len(g.contentCorpus)]
	fmt.Fprintf(&b, "trace %d step %d: ", seq, i)
	for b.Len() < n {
		b.WriteString(text)
	}
	body := b.String()[:n]
	if role == "assistant" {
		return `[{"role":"assistant","parts":[{"type":"text","content":"` + body + `"}],"finish_reason":"stop"}]`
	}
	return `[{"role":"system","parts":[{"type":"text","content":"You plan trips. Use the tools."}]},` +
		`{"role":"user","parts":[{"type":"text","content":"` + body + `"}]}]`
}

// corpus is plain text without characters JSON would escape.
func corpus() []string {
	return []string{
		"Find me a flight from Stockholm to Lisbon next Friday, window seat, under 300 euros, and a hotel near the old town. ",
		"The cheapest direct option leaves at 07:40 and lands at 11:05; a later one with a stop in Amsterdam is 40 euros less. ",
		"Compare the three hotels by distance to the tram, breakfast included or not, and cancellation terms before you book. ",
		"Weather for the weekend: sunny on Saturday with 23 degrees, light rain on Sunday afternoon, wind from the north west. ",
	}
}
