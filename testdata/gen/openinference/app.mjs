// OpenInference (Arize) fixtures: @arizeai/openinference-instrumentation-openai + openinference-core helpers.
// Usage: node app.mjs <stream|embeddings|error|agent-rag>
import { trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import {
  traceAgent, traceChain, traceRetriever, traceTool, getRetrieverAttributes, getLLMAttributes, getOutputAttributes,
} from '@arizeai/openinference-core';
import { SEMRESATTRS_PROJECT_NAME, MimeType } from '@arizeai/openinference-semantic-conventions';
import OpenAI from 'openai';
import { startMockOpenAI } from '../mock-openai.mjs';
import { startCapture, writeCaptured } from '../otlp-capture.mjs';

const scenario = process.argv[2];
const MINI = 'gpt-4o-mini-2024-07-18';
const EMB = 'text-embedding-3-small';

const scripts = {
  stream: [
    { chat: { model: MINI, content: 'Stockholm is the capital of Sweden.', usage: { prompt: 24, completion: 8 } } },
  ],
  embeddings: [
    { embeddings: { model: EMB, dims: 8, usage: { prompt: 17 } } },
  ],
  error: [
    { status: 429, error: { message: 'Rate limit reached for gpt-4o-mini in organization org-mock on tokens per min (TPM): Limit 200000, Used 200000, Requested 31.', type: 'tokens', code: 'rate_limit_exceeded' }, headers: { 'retry-after': '1' } },
  ],
  'agent-rag': [
    { embeddings: { model: EMB, dims: 8, usage: { prompt: 9 } } },
    { chat: { model: MINI, toolCalls: [{ id: 'call_mockRefund0001', name: 'create_refund', arguments: '{"order_id":"A-1042","amount_eur":49}' }], usage: { prompt: 210, completion: 24 } } },
    { chat: { model: MINI, content: 'I have refunded the duplicate charge of 49 EUR on order A-1042; it will show up within 5 business days.', usage: { prompt: 262, completion: 27 } } },
  ],
};
if (!scripts[scenario]) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(scripts)}`);

const mock = await startMockOpenAI(scripts[scenario]);
const capture = await startCapture();

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    [ATTR_SERVICE_NAME]: 'support-assistant',
    [ATTR_SERVICE_VERSION]: '1.4.2',
    [SEMRESATTRS_PROJECT_NAME]: 'support-assistant',
  }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: capture.tracesURL }), { scheduledDelayMillis: 60000 })],
});
provider.register();
const instrumentation = new OpenAIInstrumentation();
instrumentation.manuallyInstrument(OpenAI);

const openai = new OpenAI({ apiKey: 'sk-mock', baseURL: mock.baseURL, maxRetries: 0 });

async function runStream() {
  const stream = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a concise geography assistant.' },
      { role: 'user', content: 'What is the capital of Sweden?' },
    ],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  console.log('streamed:', text);
}

async function runEmbeddings() {
  const res = await openai.embeddings.create({
    model: EMB,
    input: ['How do I reset my password?', 'Where can I download my invoice?'],
  });
  console.log('embeddings:', res.data.length);
}

// Note: instrumentation-openai 4.2.7 only handles synchronous throws; a rejected request promise never ends
// its LLM span, so that span is never exported. The CHAIN wrapper (openinference-core withSpan) does record
// the error, so the trace is one ERROR CHAIN span with an exception event.
const answerQuestion = traceChain(async function answer_question(question) {
  const res = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: question }],
  });
  return res.choices[0].message.content;
}, { name: 'answer_question' });

async function runError() {
  try {
    await answerQuestion('Summarise the refund policy in one sentence.');
  } catch (err) {
    console.log('provider error (expected):', err.status, err.message);
  }
}

// A small RAG agent: AGENT root -> RETRIEVER (wrapping an EMBEDDING call) -> LLM (tool call) -> TOOL -> LLM.
// The agent span also carries llm.token_count.* summed over its two LLM children (aggregate usage).
const KB = [
  { id: 'kb-17', content: 'Duplicate charges are refunded to the original payment method within 5 business days.', score: 0.91, metadata: { source: 'billing-faq.md', section: 'refunds' } },
  { id: 'kb-04', content: 'Refunds above 500 EUR need approval from a team lead.', score: 0.77, metadata: { source: 'billing-faq.md', section: 'limits' } },
];

const searchKnowledgeBase = traceRetriever(async function search_knowledge_base(query) {
  await openai.embeddings.create({ model: EMB, input: query });
  return KB; // a real app would search a vector index with the embedding
}, {
  name: 'search_knowledge_base',
  processOutput: (docs) => getRetrieverAttributes({ documents: docs }),
});

const createRefund = traceTool(async function create_refund(args) {
  return { refund_id: 'rf_mock_301', order_id: args.order_id, amount_eur: args.amount_eur, status: 'queued' };
}, { name: 'create_refund' });

const tools = [{
  type: 'function',
  function: {
    name: 'create_refund',
    description: 'Refund an amount on an order',
    parameters: { type: 'object', properties: { order_id: { type: 'string' }, amount_eur: { type: 'number' } }, required: ['order_id', 'amount_eur'] },
  },
}];

const supportAgent = traceAgent(async function support_agent(question) {
  const docs = await searchKnowledgeBase(question);
  const messages = [
    { role: 'system', content: `You are a billing support agent. Context:\n${docs.map((d) => `- ${d.content}`).join('\n')}` },
    { role: 'user', content: question },
  ];
  const usage = { prompt: 0, completion: 0, total: 0 };
  const add = (u) => { usage.prompt += u.prompt_tokens; usage.completion += u.completion_tokens; usage.total += u.total_tokens; };
  const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
  add(first.usage);
  const call = first.choices[0].message.tool_calls[0];
  const result = await createRefund(JSON.parse(call.function.arguments));
  messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
  const second = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
  add(second.usage);
  const answer = second.choices[0].message.content;
  trace.getActiveSpan()?.setAttributes(getLLMAttributes({ tokenCount: usage }));
  return answer;
}, {
  name: 'support_agent',
  processOutput: (answer) => getOutputAttributes({ value: answer, mimeType: MimeType.TEXT }),
});

async function runAgentRag() {
  const answer = await supportAgent('I was charged twice for order A-1042 (49 EUR). Can you refund the duplicate?');
  console.log('agent:', answer);
}

await { stream: runStream, embeddings: runEmbeddings, error: runError, 'agent-rag': runAgentRag }[scenario]();
await provider.forceFlush();
await provider.shutdown();
if (mock.remaining() !== 0) throw new Error(`mock: ${mock.remaining()} scripted responses unused`);
writeCaptured(capture, `openinference-${scenario}`);
await mock.close();
await capture.close();
