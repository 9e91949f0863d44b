// Langfuse JS SDK v5 fixtures: @langfuse/tracing observations, @langfuse/openai observeOpenAI, exported through
// @langfuse/otel's LangfuseSpanProcessor with a plain OTLP/HTTP JSON exporter.
// Usage: node app.mjs <cache-cost|error>
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { startActiveObservation, startObservation } from '@langfuse/tracing';
import { observeOpenAI } from '@langfuse/openai';
import OpenAI from 'openai';
import { startMockOpenAI } from '../mock-openai.mjs';
import { startCapture, writeCaptured } from '../otlp-capture.mjs';

const scenario = process.argv[2];
const MINI = 'gpt-4o-mini-2024-07-18';
const scripts = {
  // the provider reports 1536 prompt tokens of which 1024 were served from the prompt cache
  'cache-cost': [
    { chat: { model: MINI, content: 'The contract renews automatically every 12 months unless cancelled 30 days in advance.', usage: { prompt: 1536, completion: 22, cached: 1024 } } },
  ],
  error: [
    { status: 429, error: { message: 'Rate limit reached for gpt-4o-mini in organization org-mock on tokens per min (TPM): Limit 200000, Used 200000, Requested 1540.', type: 'tokens', code: 'rate_limit_exceeded' } },
  ],
};
if (!scripts[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(scripts)}`);

const mock = await startMockOpenAI(scripts[scenario]);
const capture = await startCapture();
const processor = new LangfuseSpanProcessor({
  exporter: new OTLPTraceExporter({ url: capture.tracesURL }),
  environment: 'staging',
  release: '2.3.0',
  flushAt: 1000,
  flushInterval: 600,
});
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'docs-helper' }),
  spanProcessors: [processor],
});
provider.register();
const openai = new OpenAI({ apiKey: 'sk-mock', baseURL: mock.baseURL, maxRetries: 0 });
const contract = 'CONTRACT TEXT '.repeat(200); // long, cacheable prefix

if (scenario === 'cache-cost') {
  await startActiveObservation('contract-qa', async (root) => {
    root.update({ input: 'When does the contract renew?' });
    // 1) observeOpenAI: usage_details from the provider usage (cached tokens split out of "input")
    const res = await observeOpenAI(openai, { generationName: 'answer-question' }).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: `Answer from the contract.\n${contract}` },
        { role: 'user', content: 'When does the contract renew?' },
      ],
    });
    const answer = res.choices[0].message.content;
    // 2) a generation reported by hand with explicit usage_details and cost_details (USD), as an app would
    //    do for a provider the SDK does not wrap
    const gen = startObservation('rerank-citations', {
      model: 'claude-3-5-haiku-20241022',
      input: [{ role: 'user', content: `Pick the clause that supports: ${answer}` }],
      modelParameters: { temperature: 0, max_tokens: 64 },
    }, { asType: 'generation' });
    gen.update({
      output: { role: 'assistant', content: 'Clause 14.2' },
      usageDetails: { input: 410, output: 6, cache_read_input_tokens: 2048, cache_creation_input_tokens: 512, total: 2976 },
      costDetails: { input: 0.000328, output: 0.000024, cache_read_input_tokens: 0.00016384, cache_creation_input_tokens: 0.000512, total: 0.00102784 },
    }).end();
    root.update({ output: answer });
  });
} else if (scenario === 'error') {
  try {
    await startActiveObservation('contract-qa', async (root) => {
      root.update({ input: 'When does the contract renew?' });
      await observeOpenAI(openai, { generationName: 'answer-question' }).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'When does the contract renew?' }],
      });
    });
  } catch (err) {
    console.log('provider error (expected):', err.status, err.message);
  }
}

await provider.forceFlush();
await provider.shutdown();
if (mock.remaining() !== 0) throw new Error(`mock: ${mock.remaining()} scripted responses unused`);
writeCaptured(capture, `langfuse-${scenario}`);
await mock.close();
await capture.close();
