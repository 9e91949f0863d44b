// OpenTelemetry GenAI semconv fixtures: @opentelemetry/instrumentation-openai (opentelemetry-js-contrib).
// Message content is emitted as OTel *log records* (not span events); they are captured too and written
// next to the trace file as <name>.otlp-logs.json.
// Usage: node app.cjs <chat-greeting|stream|tools|responses|embeddings|error>
// CommonJS on purpose: the instrumentation patches `openai` through require() hooks.
//
// With OTLP_ENDPOINT=http://host:port set, the same scenario is exported live to that OTLP/HTTP
// endpoint (traces to /v1/traces, logs to /v1/logs, the SDKs' default batch delays) and nothing is
// written: the end-to-end tests run the real instrumentation against the collector this way, each
// run under a service name of its own (OTEL_SERVICE_NAME) to find its traces by.
const live = process.env.OTLP_ENDPOINT;
if (!live) {
  process.env.OTEL_BSP_SCHEDULE_DELAY = '60000'; // one export request at shutdown
  process.env.OTEL_BLRP_SCHEDULE_DELAY = '60000';
}
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
  'chat-greeting': [
    { chat: { model: MINI, content: 'Bonjour ! Comment puis-je vous aider ?', usage: { prompt: 24, completion: 10 } } },
  ],
  tools: [
    { chat: { model: MINI, toolCalls: [{ id: 'call_mock0001', name: 'get_weather', arguments: '{"city":"Paris"}' }], usage: { prompt: 61, completion: 15 } } },
    { chat: { model: MINI, content: 'It is 18 °C and sunny in Paris.', usage: { prompt: 92, completion: 12 } } },
  ],
  responses: [
    { response: { model: MINI, text: 'A haiku is a three-line poem of five, seven and five syllables.', usage: { input: 21, output: 16 } } },
  ],
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

  const tracesURL = live ? `${live}/v1/traces` : capture.tracesURL;
  const logsURL = live ? `${live}/v1/logs` : capture.logsURL;
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME || 'kb-search',
    resourceDetectors: [],
    traceExporter: new OTLPTraceExporter({ url: tracesURL }),
    logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: logsURL }) })],
    instrumentations: [new OpenAIInstrumentation()],
  });
  sdk.start();
  const { OpenAI } = require('openai'); // after sdk.start() so the require hook patches it
  const openai = new OpenAI({ apiKey: 'sk-mock', baseURL: mock.baseURL, maxRetries: 0 });

  const { trace } = require('@opentelemetry/api');
  const tracer = trace.getTracer('otlp-gen-otel-genai');

  if (scenario === 'chat-greeting') {
    const res = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are a friendly assistant who answers in French.' },
        { role: 'user', content: 'Say hello.' },
      ],
      max_tokens: 50,
    });
    console.log('chat:', res.choices[0].message.content);
  } else if (scenario === 'tools') {
    // Two calls in one parent span, as an agent's turn: the tool call and the answer.
    await tracer.startActiveSpan('agent-turn', async (span) => {
      const tools = [{
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      }];
      const messages = [
        { role: 'system', content: 'Use the tools to answer.' },
        { role: 'user', content: 'What is the weather in Paris?' },
      ];
      const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
      const call = first.choices[0].message.tool_calls[0];
      messages.push(first.choices[0].message);
      messages.push({ role: 'tool', tool_call_id: call.id, content: '{"temperature_c":18,"sky":"sunny"}' });
      const second = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
      console.log('tools:', second.choices[0].message.content);
      span.end();
    });
  } else if (scenario === 'responses') {
    const res = await openai.responses.create({
      model: 'gpt-4o-mini',
      instructions: 'Answer in one sentence.',
      input: 'What is a haiku?',
    });
    console.log('responses:', res.output_text);
  } else if (scenario === 'stream') {
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
  if (live) {
    await mock.close();
    await capture.close();
    return;
  }
  writeCaptured(capture, `otel-genai-${scenario}`);
  if (capture.requests.some((r) => r.path === '/v1/logs')) {
    writeCaptured(capture, `otel-genai-${scenario}`, { path: '/v1/logs', suffix: '.otlp-logs.json' });
  }
  await mock.close();
  await capture.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
