// Creates one span with the real Opper TypeScript SDK (opperai 3.4.1, API v2)
// as the child of a span of an OpenTelemetry-instrumented service: same trace
// id (the UUID form of the OTel trace id), parent id = the Opper id of the
// OTel parent span. Used by the end-to-end test TestE2EMixedLanguages (e2e/).
//
//   OPPER_RECEIVER_URL=http://127.0.0.1:8090 OPPER_API_KEY=... \
//   TRACE_ID=<uuid> PARENT_ID=<uuid> SPAN_ID=<uuid> node mixed-child.mjs
//
// Prints the created span as JSON; exits non-zero on failure.
import assert from "node:assert/strict";
import { Opper } from "opperai";

const need = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return v;
};
const base = need("OPPER_RECEIVER_URL").replace(/\/+$/, "");
const traceId = need("TRACE_ID");
const parentId = need("PARENT_ID");
const id = need("SPAN_ID");

const opper = new Opper({ serverURL: `${base}/v2`, httpBearer: process.env.OPPER_API_KEY ?? "" });

const end = new Date();
const start = new Date(end.getTime() - 800);
try {
  const span = await opper.spans.create({
    id,
    traceId,
    parentId,
    name: "summarize (opper sdk)",
    type: "generation",
    startTime: start,
    endTime: end,
    input: "Summarize: the weather in Paris is 18°C and sunny.",
    output: "Paris: 18°C, sunny.",
    meta: { model: "gpt-4o-mini", usage: { input_tokens: 21, output_tokens: 7 }, sdk: "opperai-ts" },
  });
  assert.equal(span.id, id);
  assert.equal(span.traceId, traceId);
  assert.equal(span.parentId, parentId);
  console.log(JSON.stringify(span));
} catch (err) {
  console.error("FAIL spans.create:", err?.message ?? err);
  if (err?.body !== undefined) console.error("body:", err.body);
  process.exit(1);
}
