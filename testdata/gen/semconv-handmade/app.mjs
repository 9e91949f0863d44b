// HANDMADE, not a library capture. No JS instrumentation found on npm emits these layouts as *span events* in
// its normal configuration (see ../README.md), so this script writes them itself with the real OpenTelemetry
// SDK, following the GenAI semantic conventions event definitions:
//   - span "chat gpt-4o-mini" (semconv >= 1.37): one span event gen_ai.client.inference.operation.details
//     with gen_ai.system_instructions, gen_ai.input.messages and gen_ai.output.messages (JSON strings, since
//     the JS API has no map-valued attributes) plus the usual request/response/usage attributes.
//   - span "chat gpt-4o" (semconv 1.28 - 1.36 event layout): span events gen_ai.system.message,
//     gen_ai.user.message, gen_ai.assistant.message, gen_ai.tool.message and gen_ai.choice, with the event
//     body fields (content, role, tool_calls, id; index, finish_reason, message) flattened into event
//     attributes (nested values as JSON strings), as Langfuse's span-event reader expects.
// Usage: node app.mjs
import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS, EVENT_GEN_AI_SYSTEM_MESSAGE, EVENT_GEN_AI_USER_MESSAGE,
  EVENT_GEN_AI_ASSISTANT_MESSAGE, EVENT_GEN_AI_TOOL_MESSAGE, EVENT_GEN_AI_CHOICE,
  ATTR_GEN_AI_OPERATION_NAME, ATTR_GEN_AI_PROVIDER_NAME, ATTR_GEN_AI_SYSTEM, ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL, ATTR_GEN_AI_RESPONSE_ID, ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS, ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  ATTR_GEN_AI_INPUT_MESSAGES, ATTR_GEN_AI_OUTPUT_MESSAGES,
} from '@opentelemetry/semantic-conventions/incubating';
import { startCapture, writeCaptured } from '../otlp-capture.mjs';

const capture = await startCapture();
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'semconv-handmade' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: capture.tracesURL }), { scheduledDelayMillis: 60000 })],
});
const tracer = provider.getTracer('semconv-handmade', '0.0.0');

// --- semconv >= 1.37: gen_ai.client.inference.operation.details span event ---
{
  const span = tracer.startSpan('chat gpt-4o-mini', {
    kind: SpanKind.CLIENT,
    attributes: {
      [ATTR_GEN_AI_OPERATION_NAME]: 'chat',
      [ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
      [ATTR_GEN_AI_REQUEST_MODEL]: 'gpt-4o-mini',
    },
  });
  const response = {
    [ATTR_GEN_AI_RESPONSE_MODEL]: 'gpt-4o-mini-2024-07-18',
    [ATTR_GEN_AI_RESPONSE_ID]: 'chatcmpl-handmade0001',
    [ATTR_GEN_AI_RESPONSE_FINISH_REASONS]: ['stop'],
    [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: 41,
    [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: 9,
  };
  span.setAttributes(response);
  span.addEvent(EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS, {
    [ATTR_GEN_AI_OPERATION_NAME]: 'chat',
    [ATTR_GEN_AI_REQUEST_MODEL]: 'gpt-4o-mini',
    ...response,
    [ATTR_GEN_AI_SYSTEM_INSTRUCTIONS]: JSON.stringify([{ type: 'text', content: 'You are a concise geography assistant.' }]),
    [ATTR_GEN_AI_INPUT_MESSAGES]: JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'What is the capital of Norway?' }] }]),
    [ATTR_GEN_AI_OUTPUT_MESSAGES]: JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'Oslo is the capital of Norway.' }], finish_reason: 'stop' }]),
  });
  span.end();
}

// --- semconv 1.28 - 1.36: one event per message + gen_ai.choice ---
{
  const span = tracer.startSpan('chat gpt-4o', {
    kind: SpanKind.CLIENT,
    attributes: { [ATTR_GEN_AI_OPERATION_NAME]: 'chat', [ATTR_GEN_AI_SYSTEM]: 'openai', [ATTR_GEN_AI_REQUEST_MODEL]: 'gpt-4o' },
  });
  const sys = { [ATTR_GEN_AI_SYSTEM]: 'openai' };
  const toolCalls = [{ id: 'call_handmade0001', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Bergen"}' } }];
  span.addEvent(EVENT_GEN_AI_SYSTEM_MESSAGE, { ...sys, content: 'You are a travel assistant. Use tools when needed.' });
  span.addEvent(EVENT_GEN_AI_USER_MESSAGE, { ...sys, content: 'Is it raining in Bergen?' });
  span.addEvent(EVENT_GEN_AI_ASSISTANT_MESSAGE, { ...sys, tool_calls: JSON.stringify(toolCalls) });
  span.addEvent(EVENT_GEN_AI_TOOL_MESSAGE, { ...sys, id: 'call_handmade0001', content: '{"city":"Bergen","conditions":"rain","temperature":9}' });
  span.setAttributes({
    [ATTR_GEN_AI_RESPONSE_MODEL]: 'gpt-4o-2024-08-06',
    [ATTR_GEN_AI_RESPONSE_ID]: 'chatcmpl-handmade0002',
    [ATTR_GEN_AI_RESPONSE_FINISH_REASONS]: ['stop'],
    [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: 102,
    [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: 11,
  });
  span.addEvent(EVENT_GEN_AI_CHOICE, {
    ...sys,
    index: 0,
    finish_reason: 'stop',
    message: JSON.stringify({ role: 'assistant', content: 'Yes, it is raining in Bergen (9°C).' }),
  });
  span.end();
}

await provider.forceFlush();
await provider.shutdown();
writeCaptured(capture, 'semconv-events-handmade');
await capture.close();
