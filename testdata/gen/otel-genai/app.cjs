// OpenTelemetry GenAI semconv fixtures: @opentelemetry/instrumentation-openai (opentelemetry-js-contrib).
// Message content is emitted as OTel *log records* (not span events); they are captured too and written
// next to the trace file as <name>.otlp-logs.json.
// Usage: node app.cjs <stream|embeddings|error>
// CommonJS on purpose: the instrumentation patches `openai` through require() hooks.
process.env.OTEL_BSP_SCHEDULE_DELAY = '60000'; // one export request at shutdown
process.env.OTEL_BLRP_SCHEDULE_DELAY = '60000';
process.env.OTEL_METRICS_EXPORTER = 'none';
process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = 'true';

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');
const { BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OpenAIInstrumentation } = require('@opentelemetry/instrumentation-openai');

const MINI = 'gpt-4o-mini-2024-07-18';
const EMB = 'text-embedding-3-small';
const scripts = {
  stream: [
    { chat: { model: MINI, content: 'The Eiffel Tower is about 330 metres tall.', usage: { prompt: 26, completion: 11 } } },
  ],
  embeddings: [
    { embeddings: { model: EMB, usage: { prompt: 12 } } },
  ],
  error: [
    { status: 500, error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' } },
  ],
};

async function main() {
  const scenario = process.argv[2];
  if (!scripts[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(scripts)}`);
  const { startMockOpenAI } = await import('../mock-openai.mjs');
  const { startCapture, writeCaptured } = await import('../otlp-capture.mjs');
  const mock = await startMockOpenAI(scripts[scenario]);
  const capture = await startCapture();

  const sdk = new NodeSDK({
    serviceName: 'kb-search',
    resourceDetectors: [],
    traceExporter: new OTLPTraceExporter({ url: capture.tracesURL }),
    logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: capture.logsURL }) })],
    instrumentations: [new OpenAIInstrumentation()],
  });
  sdk.start();
  const { OpenAI } = require('openai'); // after sdk.start() so the require hook patches it
  const openai = new OpenAI({ apiKey: 'sk-mock', baseURL: mock.baseURL, maxRetries: 0 });

  if (scenario === 'stream') {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You answer in one short sentence.' },
        { role: 'user', content: 'How tall is the Eiffel Tower?' },
      ],
      temperature: 0.2,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    console.log('streamed:', text);
  } else if (scenario === 'embeddings') {
    const res = await openai.embeddings.create({ model: EMB, input: ['refund policy', 'invoice download'], encoding_format: 'float' });
    console.log('embeddings:', res.data.length);
  } else if (scenario === 'error') {
    try {
      await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Translate "good morning" to French.' }] });
    } catch (err) {
      console.log('provider error (expected):', err.status, err.message);
    }
  }

  await sdk.shutdown();
  if (mock.remaining() !== 0) throw new Error(`mock: ${mock.remaining()} scripted responses unused`);
  writeCaptured(capture, `otel-genai-${scenario}`);
  if (capture.requests.some((r) => r.path === '/v1/logs')) {
    writeCaptured(capture, `otel-genai-${scenario}`, { path: '/v1/logs', suffix: '.otlp-logs.json' });
  }
  await mock.close();
  await capture.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
