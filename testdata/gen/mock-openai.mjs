// Tiny scripted mock of the OpenAI HTTP API, loopback only, no dependencies.
//
// Serves POST .../chat/completions (JSON, or SSE when "stream": true, with a final usage chunk when
// stream_options.include_usage is set), POST .../embeddings (float or base64 encoding) and
// POST .../responses (the Responses API, JSON only).
// Any path that ends in /chat/completions, /embeddings or /responses is accepted, so Azure-style endpoints work too.
//
// Responses come from a script: one entry per expected request, consumed in order. An entry is
//   { chat: { model, content?, toolCalls?: [{id, name, arguments}], finish?, usage: {prompt, completion,
//             cached?, reasoning?} }, id? }
//   { embeddings: { model, dims?, usage: { prompt } } }
//   { response: { model, text, usage: { input, output } } }                // POST .../responses
//   { status: 500 | 429 | ..., error: { message, type, code? }, headers? }   // the provider fails
// With no entry left, the request is answered 500 (so a missing entry is visible, never silent).
//
// In-process use:  const mock = await startMockOpenAI(script); ... mock.baseURL ... await mock.close();
// Standalone:      node mock-openai.mjs script.json   (prints the base URL; port chosen by the OS)
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const CREATED = 1795272530; // fixed "created" timestamp so responses are reproducible

function chatUsage(u) {
  const usage = {
    prompt_tokens: u.prompt,
    completion_tokens: u.completion,
    total_tokens: u.prompt + u.completion,
    prompt_tokens_details: { cached_tokens: u.cached ?? 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning ?? 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  return usage;
}

function chatCompletion(id, c) {
  const toolCalls = (c.toolCalls ?? []).map((t) => ({
    id: t.id,
    type: 'function',
    function: { name: t.name, arguments: t.arguments },
  }));
  const message = { role: 'assistant', content: c.content ?? null, refusal: null, annotations: [] };
  if (toolCalls.length) message.tool_calls = toolCalls;
  return {
    id,
    object: 'chat.completion',
    created: CREATED,
    model: c.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: c.finish ?? (toolCalls.length ? 'tool_calls' : 'stop') }],
    usage: chatUsage(c.usage),
    service_tier: 'default',
    system_fingerprint: 'fp_mock0001',
  };
}

function* chatChunks(id, c, includeUsage) {
  const base = { id, object: 'chat.completion.chunk', created: CREATED, model: c.model, service_tier: 'default', system_fingerprint: 'fp_mock0001' };
  const chunk = (delta, finish = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}) });
  yield chunk({ role: 'assistant', content: '', refusal: null });
  if (c.content) {
    // split into word-sized deltas, keeping the spaces, so the stream has several content chunks
    for (const piece of c.content.match(/\S+\s*/g) ?? [c.content]) yield chunk({ content: piece });
  }
  for (const [index, t] of (c.toolCalls ?? []).entries()) {
    yield chunk({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] });
    const a = t.arguments;
    const mid = Math.ceil(a.length / 2);
    yield chunk({ tool_calls: [{ index, function: { arguments: a.slice(0, mid) } }] });
    yield chunk({ tool_calls: [{ index, function: { arguments: a.slice(mid) } }] });
  }
  yield chunk({}, c.finish ?? ((c.toolCalls ?? []).length ? 'tool_calls' : 'stop'));
  if (includeUsage) yield { ...base, choices: [], usage: chatUsage(c.usage) };
}

// Deterministic pseudo-embedding: small vector derived from the text.
function vectorFor(text, dims) {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.codePointAt(0), 16777619) >>> 0;
  const v = [];
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ (h >>> 13), 2246822519) >>> 0;
    v.push(Math.round(((h / 4294967295) * 2 - 1) * 1e4) / 1e4);
  }
  return v;
}

function embeddingsResponse(e, body) {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const dims = body.dimensions ?? e.dims ?? 8;
  const data = inputs.map((text, index) => {
    const vec = vectorFor(String(text), dims);
    const embedding = body.encoding_format === 'base64'
      ? Buffer.from(new Float32Array(vec).buffer).toString('base64')
      : vec;
    return { object: 'embedding', index, embedding };
  });
  return { object: 'list', data, model: e.model, usage: { prompt_tokens: e.usage.prompt, total_tokens: e.usage.prompt } };
}

function responsesResponse(id, r, body) {
  return {
    id,
    object: 'response',
    created_at: CREATED,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: r.model,
    output: [{
      type: 'message',
      id: `msg_${id.slice(5)}`,
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: r.text, annotations: [], logprobs: [] }],
    }],
    parallel_tool_calls: true,
    previous_response_id: null,
    store: true,
    temperature: body.temperature ?? 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: {
      input_tokens: r.usage.input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: r.usage.output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: r.usage.input + r.usage.output,
    },
    user: null,
    metadata: {},
  };
}

export async function startMockOpenAI(script = []) {
  const queue = [...script];
  const calls = [];
  let seq = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const path = new URL(req.url, 'http://x').pathname;
      let body = {};
      try { body = raw ? JSON.parse(raw) : {}; } catch { /* leave empty */ }
      const entry = queue.shift();
      calls.push({ method: req.method, path, body, status: entry?.status ?? (entry ? 200 : 500) });
      const send = (status, obj, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_mock${String(seq).padStart(4, '0')}`, ...headers });
        res.end(JSON.stringify(obj));
      };
      if (!entry) return send(500, { error: { message: `mock: no scripted response for ${req.method} ${path}`, type: 'server_error' } });
      if (entry.status && entry.status >= 400) return send(entry.status, { error: { param: null, code: null, ...entry.error } }, entry.headers);
      seq += 1;
      if (path.endsWith('/chat/completions') && entry.chat) {
        const id = entry.id ?? `chatcmpl-mock${String(seq).padStart(4, '0')}`;
        if (body.stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': `req_mock${String(seq).padStart(4, '0')}` });
          for (const c of chatChunks(id, entry.chat, Boolean(body.stream_options?.include_usage))) res.write(`data: ${JSON.stringify(c)}\n\n`);
          res.end('data: [DONE]\n\n');
          return;
        }
        return send(200, chatCompletion(id, entry.chat));
      }
      if (path.endsWith('/embeddings') && entry.embeddings) return send(200, embeddingsResponse(entry.embeddings, body));
      if (path.endsWith('/responses') && entry.response) {
        return send(200, responsesResponse(entry.id ?? `resp_mock${String(seq).padStart(4, '0')}`, entry.response, body));
      }
      return send(500, { error: { message: `mock: scripted entry does not fit ${req.method} ${path}`, type: 'server_error' } });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    baseURL: `http://127.0.0.1:${port}/v1`,
    calls,
    remaining: () => queue.length,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const script = process.argv[2] ? JSON.parse(readFileSync(process.argv[2], 'utf8')) : [];
  const mock = await startMockOpenAI(script);
  console.log(mock.baseURL);
}
