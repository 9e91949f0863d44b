// Vercel AI SDK v4 fixtures: ai 4.3 built-in telemetry (experimental_telemetry) with @ai-sdk/openai 1.x
// (Chat Completions API). Usage: node app.mjs <tools|stream|embed>
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { generateText, streamText, embedMany, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { z } from 'zod';
import { startMockOpenAI } from '../mock-openai.mjs';
import { startCapture, writeCaptured } from '../otlp-capture.mjs';

const scenario = process.argv[2];
const MINI = 'gpt-4o-mini-2024-07-18';
const scripts = {
  tools: [
    { chat: { model: MINI, toolCalls: [{ id: 'call_mockWeather0001', name: 'getWeather', arguments: '{"city":"Oslo"}' }], usage: { prompt: 78, completion: 15 } } },
    { chat: { model: MINI, content: 'It is currently 7°C and raining in Oslo.', usage: { prompt: 121, completion: 12 } } },
  ],
  stream: [
    { chat: { model: MINI, content: 'Madrid is the capital of Spain.', usage: { prompt: 27, completion: 8 } } },
  ],
  embed: [
    { embeddings: { model: 'text-embedding-3-small', usage: { prompt: 11 } } },
  ],
};
if (!scripts[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(scripts)}`);

const mock = await startMockOpenAI(scripts[scenario]);
const capture = await startCapture();
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'travel-bot', [ATTR_SERVICE_VERSION]: '0.4.0' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: capture.tracesURL }), { scheduledDelayMillis: 60000 })],
});
provider.register();

const openai = createOpenAI({ apiKey: 'sk-mock', baseURL: mock.baseURL, compatibility: 'strict' });

if (scenario === 'tools') {
  const { text, steps } = await generateText({
    model: openai('gpt-4o-mini'),
    system: 'You are a travel assistant. Use tools when needed.',
    prompt: 'What is the weather like in Oslo right now?',
    tools: {
      getWeather: tool({
        description: 'Get the current weather for a city',
        parameters: z.object({ city: z.string().describe('City name') }),
        execute: async ({ city }) => ({ city, temperature: 7, unit: 'celsius', conditions: 'rain' }),
      }),
    },
    maxSteps: 3,
    experimental_telemetry: { isEnabled: true, functionId: 'weather-agent', metadata: { userId: 'user-42' } },
  });
  console.log('steps:', steps.length, 'text:', text);
} else if (scenario === 'stream') {
  // compatibility 'strict' makes the provider send stream_options.include_usage.
  const result = streamText({
    model: openai('gpt-4o-mini'),
    system: 'You are a concise geography assistant.',
    prompt: 'What is the capital of Spain?',
    temperature: 0.3,
    experimental_telemetry: { isEnabled: true, functionId: 'geo-stream' },
  });
  let text = '';
  for await (const delta of result.textStream) text += delta;
  console.log('streamed:', text, await result.usage);
} else if (scenario === 'embed') {
  const { embeddings, usage } = await embedMany({
    model: openai.embedding('text-embedding-3-small'),
    values: ['sunny beach holiday', 'ski trip in the alps'],
    experimental_telemetry: { isEnabled: true, functionId: 'trip-index' },
  });
  console.log('embeddings:', embeddings.length, usage);
}

await provider.forceFlush();
await provider.shutdown();
if (mock.remaining() !== 0) throw new Error(`mock: ${mock.remaining()} scripted responses unused`);
writeCaptured(capture, `vercel-ai-v4-${scenario}`);
await mock.close();
await capture.close();
