// OpenLLMetry (Traceloop) fixtures: @traceloop/node-server-sdk + its @traceloop/instrumentation-openai.
// Usage: node app.cjs <stream|error|agent>
process.env.OTEL_BSP_SCHEDULE_DELAY = '60000'; // one export request at shutdown
process.env.OTEL_NODE_RESOURCE_DETECTORS = 'none'; // no host/process attributes, only service.name
process.env.TRACELOOP_TELEMETRY = 'false';

const traceloop = require('@traceloop/node-server-sdk');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { OpenAI } = require('openai');

const MINI = 'gpt-4o-mini-2024-07-18';
const scripts = {
  stream: [
    { chat: { model: MINI, content: 'You can download invoices under Settings > Billing > Invoices.', usage: { prompt: 31, completion: 14 } } },
  ],
  error: [
    { status: 500, error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' } },
    { chat: { model: MINI, content: 'Customer reports a double charge on the March invoice and asks for a refund.', usage: { prompt: 38, completion: 15 } } },
  ],
  agent: [
    { chat: { model: MINI, toolCalls: [{ id: 'call_mockOrder0001', name: 'lookup_order', arguments: '{"order_id":"A-1042"}' }], usage: { prompt: 96, completion: 17 } } },
    { chat: { model: MINI, content: 'Order A-1042 shipped on 3 March and should arrive by 7 March.', usage: { prompt: 141, completion: 18 } } },
  ],
};

async function main() {
  const scenario = process.argv[2];
  if (!scripts[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(scripts)}`);
  const { startMockOpenAI } = await import('../mock-openai.mjs');
  const { startCapture, writeCaptured } = await import('../otlp-capture.mjs');
  const mock = await startMockOpenAI(scripts[scenario]);
  const capture = await startCapture();

  traceloop.initialize({
    appName: 'ticket-triage',
    exporter: new OTLPTraceExporter({ url: capture.tracesURL }),
    instrumentModules: { openAI: OpenAI },
    silenceInitializationMessage: true,
    traceloopSyncEnabled: false,
  });
  const openai = new OpenAI({ apiKey: 'sk-mock', baseURL: mock.baseURL, maxRetries: 0 });

  if (scenario === 'stream') {
    // stream_options.include_usage is set and the provider sends usage, but the instrumentation ignores the
    // usage chunk; with enrichTokens (default on) it counts tokens itself with js-tiktoken.
    await traceloop.withWorkflow({ name: 'answer_faq' }, async () => {
      const stream = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Answer billing questions briefly.' },
          { role: 'user', content: 'Where can I download my invoices?' },
        ],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      console.log('streamed:', text);
      return text;
    });
  } else if (scenario === 'error') {
    // gpt-4o answers 500; the app falls back to gpt-4o-mini. In 0.27.0 a rejected call never ends its span,
    // so the failed call leaves no span at all: only the task that caught it and the fallback call are exported.
    await traceloop.withWorkflow({ name: 'summarise_ticket' }, async () => {
      const messages = [
        { role: 'system', content: 'Summarise the support ticket in one sentence.' },
        { role: 'user', content: 'Hi, my March invoice was charged twice. Please refund one of the charges.' },
      ];
      const primary = await traceloop.withTask({ name: 'summarise_primary' }, async () => {
        try {
          const r = await openai.chat.completions.create({ model: 'gpt-4o', messages });
          return r.choices[0].message.content;
        } catch (err) {
          console.log('provider error (expected):', err.status, err.message);
          return null;
        }
      });
      if (primary) return primary;
      return traceloop.withTask({ name: 'summarise_fallback' }, async () => {
        const r = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
        return r.choices[0].message.content;
      });
    });
  } else if (scenario === 'agent') {
    const tools = [{
      type: 'function',
      function: { name: 'lookup_order', description: 'Look up an order by id', parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] } },
    }];
    await traceloop.withAgent({ name: 'order_status_agent' }, async () => {
      const messages = [
        { role: 'system', content: 'You answer questions about orders. Use tools.' },
        { role: 'user', content: 'Where is my order A-1042?' },
      ];
      const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
      const call = first.choices[0].message.tool_calls[0];
      const result = await traceloop.withTool({ name: 'lookup_order' }, async (args) => (
        { order_id: args.order_id, status: 'shipped', shipped_on: '2026-03-03', eta: '2026-03-07' }
      ), JSON.parse(call.function.arguments));
      messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
      const second = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
      return second.choices[0].message.content;
    });
  }

  await traceloop.forceFlush();
  if (mock.remaining() !== 0) throw new Error(`mock: ${mock.remaining()} scripted responses unused`);
  writeCaptured(capture, `openllmetry-${scenario}`);
  await mock.close();
  await capture.close();
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
