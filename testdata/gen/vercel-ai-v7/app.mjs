// Vercel AI SDK v7 fixtures: ai 7 + @ai-sdk/otel OpenTelemetry integration (GenAI semconv span names).
// Usage: node app.mjs <embed|embed-many|stream>
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { registerTelemetry, embed, embedMany, streamText } from 'ai';
import { OpenTelemetry } from '@ai-sdk/otel';
import { createOpenAI } from '@ai-sdk/openai';
import { startMockOpenAI } from '../mock-openai.mjs';
import { startCapture, writeCaptured } from '../otlp-capture.mjs';

const scenario = process.argv[2];
const EMB = 'text-embedding-3-small';
const scripts = {
  embed: [{ embeddings: { model: EMB, usage: { prompt: 6 } } }],
  'embed-many': [{ embeddings: { model: EMB, usage: { prompt: 21 } } }],
  stream: [{ chat: { model: 'gpt-4o-mini-2024-07-18', content: 'Lisbon is the capital of Portugal.', usage: { prompt: 28, completion: 9, cached: 0 } } }],
};
if (!scripts[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(scripts)}`);

const mock = await startMockOpenAI(scripts[scenario]);
const capture = await startCapture();
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'docs-search', [ATTR_SERVICE_VERSION]: '2.1.0' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: capture.tracesURL }), { scheduledDelayMillis: 60000 })],
});
provider.register();
// embedding: true also records the input values and vectors; usage: true adds the AI SDK usage details.
registerTelemetry(new OpenTelemetry({ embedding: true, usage: true }));
const openai = createOpenAI({ apiKey: 'sk-mock', baseURL: mock.baseURL });

if (scenario === 'embed') {
  const { embedding, usage } = await embed({ model: openai.embedding(EMB), value: 'how to rotate an API key', telemetry: { functionId: 'docs-query' } });
  console.log('embedding dims:', embedding.length, usage);
} else if (scenario === 'embed-many') {
  const { embeddings, usage } = await embedMany({
    model: openai.embedding(EMB),
    values: ['Rotating API keys', 'Configuring single sign-on', 'Exporting audit logs'],
    telemetry: { functionId: 'docs-index' },
  });
  console.log('embeddings:', embeddings.length, usage);
} else if (scenario === 'stream') {
  const result = streamText({
    model: openai.chat('gpt-4o-mini'),
    system: 'You are a concise geography assistant.',
    prompt: 'What is the capital of Portugal?',
    telemetry: { functionId: 'geo-stream' },
  });
  let text = '';
  for await (const delta of result.textStream) text += delta;
  console.log('streamed:', text, await result.usage);
}

await provider.forceFlush();
await provider.shutdown();
if (mock.remaining() !== 0) throw new Error(`mock: ${mock.remaining()} scripted responses unused`);
writeCaptured(capture, `vercel-ai-v7-${scenario}`);
await mock.close();
await capture.close();
