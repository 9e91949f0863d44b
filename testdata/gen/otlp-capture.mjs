// Tiny OTLP/HTTP receiver on loopback, no dependencies. The apps point a real OTLP/HTTP JSON trace exporter
// at it; the request body the exporter sent (an ExportTraceServiceRequest) is written unchanged, only
// pretty-printed, to ../otlp/<name>.otlp.json.
import http from 'node:http';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const OUT_DIR = process.env.OTLP_OUT_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'otlp');

export async function startCapture() {
  const requests = []; // { path, contentType, body }
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const buf = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? '';
      requests.push({ path: req.url, contentType, raw: buf });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    tracesURL: `http://127.0.0.1:${port}/v1/traces`,
    logsURL: `http://127.0.0.1:${port}/v1/logs`,
    requests,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

// Writes the single JSON export request received on `path`. More than one request (the batch was split)
// or a non-JSON body is an error: the file must be exactly one genuine ExportTraceServiceRequest.
export function writeCaptured(capture, name, { path = '/v1/traces', suffix = '.otlp.json' } = {}) {
  const reqs = capture.requests.filter((r) => r.path === path);
  if (reqs.length !== 1) throw new Error(`${name}: expected exactly 1 export request on ${path}, got ${reqs.length}`);
  const [r] = reqs;
  if (!r.contentType.includes('json')) throw new Error(`${name}: exporter sent ${r.contentType}, not JSON`);
  const body = JSON.parse(r.raw.toString('utf8'));
  mkdirSync(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `${name}${suffix}`);
  writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
  const n = (body.resourceSpans ?? body.resourceLogs ?? []).flatMap((rs) => rs.scopeSpans ?? rs.scopeLogs ?? [])
    .reduce((a, s) => a + (s.spans ?? s.logRecords ?? []).length, 0);
  console.log(`wrote ${file} (${n} ${path.endsWith('logs') ? 'log records' : 'spans'})`);
  return body;
}
