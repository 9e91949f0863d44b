// GenAI semconv span EVENTS from a real library: @azure-rest/ai-inference (Azure AI Inference REST client)
// traced through @azure/core-tracing + @azure/opentelemetry-instrumentation-azure-sdk.
// Its tracing policy adds span events gen_ai.system.message / gen_ai.user.message / gen_ai.assistant.message /
// gen_ai.tool.message (one per request message) and gen_ai.choice (one per response choice). The message body
// is a JSON string in the event attribute gen_ai.event.content (the pre-1.28 semconv event layout, from the
// time span events could not carry a body). Content is recorded only with
// AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED=true.
// Usage: node app.cjs events
// CommonJS on purpose: the Azure instrumentation hooks require('@azure/core-tracing').
process.env.AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED = 'true';

const { resourceFromAttributes } = require('@opentelemetry/resources');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { createAzureSdkInstrumentation } = require('@azure/opentelemetry-instrumentation-azure-sdk');

const scripts = {
  events: [
    { chat: { model: 'gpt-4o-mini-2024-07-18', content: 'It is 21°C and sunny in Rome right now.', usage: { prompt: 118, completion: 13 } } },
  ],
};

async function main() {
  const scenario = process.argv[2];
  if (!scripts[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(scripts)}`);
  const { startMockOpenAI } = await import('../mock-openai.mjs');
  const { startCapture, writeCaptured } = await import('../otlp-capture.mjs');
  const mock = await startMockOpenAI(scripts[scenario]);
  const capture = await startCapture();

  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'city-guide', 'service.version': '3.0.1' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: capture.tracesURL }), { scheduledDelayMillis: 60000 })],
  });
  provider.register();
  registerInstrumentations({ instrumentations: [createAzureSdkInstrumentation()] });
  // required after registration so that @azure/core-tracing gets the OpenTelemetry instrumenter
  const ModelClient = require('@azure-rest/ai-inference').default;
  const { AzureKeyCredential } = require('@azure/core-auth');
  const client = ModelClient(`${mock.url}/v1`, new AzureKeyCredential('mock-key'), { allowInsecureConnection: true });

  const res = await client.path('/chat/completions').post({
    body: {
      model: 'gpt-4o-mini',
      temperature: 0.2,
      max_tokens: 200,
      messages: [
        { role: 'system', content: 'You are a travel assistant. Use tools when needed.' },
        { role: 'user', content: 'What is the weather like in Rome right now?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_mockRome0001', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
        { role: 'tool', tool_call_id: 'call_mockRome0001', content: '{"city":"Rome","temperature":21,"unit":"celsius","conditions":"sunny"}' },
      ],
    },
  });
  console.log('status', res.status, res.body.choices?.[0]?.message?.content);

  await provider.forceFlush();
  await provider.shutdown();
  if (mock.remaining() !== 0) throw new Error(`mock: ${mock.remaining()} scripted responses unused`);
  writeCaptured(capture, `azure-ai-inference-${scenario}`);
  await mock.close();
  await capture.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
