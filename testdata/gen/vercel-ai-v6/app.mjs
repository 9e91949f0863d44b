// Vercel AI SDK v6 fixtures: ai 6.x built-in telemetry (experimental_telemetry), legacy ai.* span names.
// Usage: node app.mjs <error|embed|embed-many>
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { generateText, embed, embedMany } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { startMockOpenAI } from '../mock-openai.mjs';
import { startCapture, writeCaptured } from '../otlp-capture.mjs';

const scenario = process.argv[2];
const EMB = 'text-embedding-3-small';
const scripts = {
  // two attempts (maxRetries: 1): 429 with retry-after, then 500; generateText then throws.
  error: [
    { status: 429, error: { message: 'Rate limit reached for gpt-4o-mini in organization org-mock on requests per min (RPM): Limit 500, Used 500, Requested 1.', type: 'requests', code: 'rate_limit_exceeded' }, headers: { 'retry-after-ms': '200' } },
    { status: 500, error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' } },
  ],
  embed: [{ embeddings: { model: EMB, usage: { prompt: 7 } } }],
  'embed-many': [{ embeddings: { model: EMB, usage: { prompt: 19 } } }],
};
if (!scripts[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(scripts)}`);

const mock = await startMockOpenAI(scripts[scenario]);
const capture = await startCapture();
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'recipe-chat', [ATTR_SERVICE_VERSION]: '0.8.3' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: capture.tracesURL }), { scheduledDelayMillis: 60000 })],
});
provider.register();
const openai = createOpenAI({ apiKey: 'sk-mock', baseURL: mock.baseURL });
const telemetry = (functionId) => ({ isEnabled: true, functionId, metadata: { userId: 'user-42' } });

if (scenario === 'error') {
  try {
    await generateText({
      model: openai.chat('gpt-4o-mini'),
      system: 'You are a helpful cooking assistant.',
      prompt: 'Suggest a quick vegetarian dinner.',
      maxRetries: 1,
      experimental_telemetry: telemetry('dinner-idea'),
    });
  } catch (err) {
    console.log('generateText failed (expected):', err.name, err.message);
  }
} else if (scenario === 'embed') {
  const { embedding, usage } = await embed({
    model: openai.embedding(EMB),
    value: 'tomato basil soup',
    experimental_telemetry: telemetry('recipe-search'),
  });
  console.log('embedding dims:', embedding.length, usage);
} else if (scenario === 'embed-many') {
  const { embeddings, usage } = await embedMany({
    model: openai.embedding(EMB),
    values: ['tomato basil soup', 'lentil curry', 'mushroom risotto'],
    experimental_telemetry: telemetry('recipe-index'),
  });
  console.log('embeddings:', embeddings.length, usage);
}

await provider.forceFlush();
await provider.shutdown();
if (mock.remaining() !== 0) throw new Error(`mock: ${mock.remaining()} scripted responses unused`);
writeCaptured(capture, `vercel-ai-v6-${scenario}`);
await mock.close();
await capture.close();
