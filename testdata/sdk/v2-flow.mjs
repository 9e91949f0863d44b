// Exercises every v2 trace call of the real Opper TypeScript SDK (opperai
// 3.4.1) against a running opper receiver, and checks the answers. The SDK
// validates every response with zod (status code, content type, field
// types), so any mismatch with what the hosted API returns throws.
//
//   OPPER_RECEIVER_URL=http://127.0.0.1:8090 OPPER_API_KEY=... node v2-flow.mjs
//
// Exits non-zero on the first failure.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Opper } from "opperai";

const base = process.env.OPPER_RECEIVER_URL;
if (!base) {
  console.error("set OPPER_RECEIVER_URL to the receiver's base URL, e.g. http://127.0.0.1:8090");
  process.exit(2);
}
const opper = new Opper({ serverURL: `${base.replace(/\/+$/, "")}/v2`, httpBearer: process.env.OPPER_API_KEY ?? "" });

const step = async (name, fn) => {
  try {
    return await fn();
  } catch (err) {
    console.error(`FAIL ${name}:`, err?.message ?? err);
    if (err?.rawValue !== undefined) console.error("raw value:", JSON.stringify(err.rawValue));
    if (err?.body !== undefined) console.error("body:", err.body);
    process.exit(1);
  }
};

const runName = `sdk flow ${randomUUID().slice(0, 8)}`;
const traceId = randomUUID();
const rootId = randomUUID();
const childId = randomUUID();
const t0 = new Date(Date.now() - 10_000);
const at = (ms) => new Date(t0.getTime() + ms);

// A child created before its parent, with a structured input object.
const child = await step("spans.create (child before parent)", () =>
  opper.spans.create({
    id: childId,
    traceId,
    parentId: rootId,
    name: "llm call",
    type: "generation",
    startTime: at(1000),
    endTime: at(2500),
    input: { question: "what is 2+2?", context: ["math"] },
    output: "4",
    meta: { model: "gpt-4o", usage: { input_tokens: 12, output_tokens: 3 }, cost: 0.0021 },
    score: 7,
  }),
);
assert.equal(child.id, childId);
assert.equal(child.traceId, traceId);
assert.equal(child.parentId, rootId);
assert.deepEqual(child.input, { question: "what is 2+2?", context: ["math"] });
assert.equal(child.score, 7);
assert.ok(child.startTime instanceof Date);

const root = await step("spans.create (root)", () =>
  opper.spans.create({ id: rootId, traceId, name: runName, type: "workflow", startTime: t0, input: "a question", meta: { k: "v", n: 1 } }),
);
assert.equal(root.id, rootId);
assert.equal(root.name, runName);
assert.equal(root.meta.k, "v");

// A span without any id: the receiver assigns both.
const bare = await step("spans.create (server ids)", () => opper.spans.create({ name: "bare span" }));
assert.ok(bare.id);
assert.ok(bare.traceId);

const got = await step("spans.get", () => opper.spans.get(childId));
assert.equal(got.name, "llm call");
assert.deepEqual(got.input, { question: "what is 2+2?", context: ["math"] });
assert.equal(got.endTime.getTime(), at(2500).getTime());

const updated = await step("spans.update", () =>
  opper.spans.update(rootId, { endTime: at(3000), output: "final output", meta: { done: true }, score: 3 }),
);
assert.equal(updated.id, rootId);
assert.equal(updated.name, runName);
assert.equal(updated.output, "final output");
assert.equal(updated.score, 3);
assert.equal(updated.meta.done, true);
assert.equal(updated.meta.k, "v", "PATCH merges meta");

// Metrics: create, list, get, update, delete.
const metric = await step("spanMetrics.createMetric", () =>
  opper.spanMetrics.createMetric(childId, { dimension: "accuracy", value: 0.9, comment: "close enough" }),
);
assert.equal(metric.spanId, childId);
assert.equal(metric.dimension, "accuracy");
assert.equal(metric.value, 0.9);
assert.ok(metric.createdAt instanceof Date);
await step("spanMetrics.createMetric (second)", () => opper.spanMetrics.createMetric(childId, { dimension: "style", value: 1 }));

const metrics = await step("spanMetrics.list", () => opper.spanMetrics.list(childId));
assert.equal(metrics.meta.totalCount, 2);
assert.equal(metrics.data.length, 2);
const page = await step("spanMetrics.list (page)", () => opper.spanMetrics.list(childId, 1, 1));
assert.equal(page.meta.totalCount, 2);
assert.equal(page.data.length, 1);
assert.equal(page.data[0].dimension, "style");

const one = await step("spanMetrics.get", () => opper.spanMetrics.get(childId, metric.id));
assert.equal(one.id, metric.id);
assert.equal(one.comment, "close enough");

const changed = await step("spanMetrics.updateMetric", () => opper.spanMetrics.updateMetric(childId, metric.id, { value: 0.5 }));
assert.equal(changed.value, 0.5);
assert.equal(changed.dimension, "accuracy");

// Feedback and examples.
const fb = await step("spans.submitFeedback", () =>
  opper.spans.submitFeedback(rootId, { score: 1, comment: "nice", saveToDataset: true }),
);
assert.equal(fb.spanId, rootId);
assert.equal(fb.score, 1);
assert.equal(fb.exampleSaved, true);
const withFeedback = await step("spans.get (feedback)", () => opper.spans.get(rootId));
assert.equal(withFeedback.feedback.score, 1);
assert.equal(withFeedback.feedback.comment, "nice");

const example = await step("spans.saveExamples", () => opper.spans.saveExamples(rootId));
assert.ok(example.datasetId);
assert.ok(example.datasetEntryId);
assert.equal(example.input, "a question");
assert.equal(example.output, "final output");

// Traces: list with a name filter (sent with %20), and get.
const list = await step("traces.list (name filter)", () => opper.traces.list(runName.toUpperCase()));
assert.equal(list.meta.totalCount, 1);
assert.equal(list.data[0].id, traceId);
assert.equal(list.data[0].name, runName);
assert.equal(list.data[0].durationMs, 3000);
assert.equal(list.data[0].totalTokens, 15);
assert.equal(list.data[0].status, "ok");
assert.equal(typeof list.data[0].input, "string");
const all = await step("traces.list", () => opper.traces.list());
assert.ok(all.meta.totalCount >= 2);
const paged = await step("traces.list (offset, limit)", () => opper.traces.list(undefined, 0, 1));
assert.equal(paged.data.length, 1);

const trace = await step("traces.get", () => opper.traces.get(traceId));
assert.equal(trace.id, traceId);
assert.equal(trace.name, runName);
assert.equal(trace.input, "a question");
assert.equal(trace.output, "final output");
assert.equal(trace.totalTokens, 15);
assert.equal(trace.spans.length, 2);
const [sRoot, sChild] = trace.spans;
assert.equal(sRoot.id, rootId);
assert.equal(sChild.id, childId);
assert.equal(sChild.parentId, rootId);
assert.equal(sChild.durationMs, 1500);
assert.equal(sChild.data.input, JSON.stringify({ question: "what is 2+2?", context: ["math"] }));
assert.equal(sChild.data.totalTokens, 15);
assert.equal(sChild.data.model, "gpt-4o");
assert.equal(sChild.metrics.length, 2);
assert.ok(sChild.metrics[0].createdAt instanceof Date);

// Deletes.
await step("spanMetrics.delete", () => opper.spanMetrics.delete(childId, metric.id));
const after = await step("spanMetrics.list (after delete)", () => opper.spanMetrics.list(childId));
assert.equal(after.meta.totalCount, 1);
await step("spans.delete", () => opper.spans.delete(childId));
await step("spans.get (deleted)", async () => {
  await assert.rejects(() => opper.spans.get(childId), (err) => err.statusCode === 404 || err.name === "NotFoundError");
});
await step("spans.delete (bare)", () => opper.spans.delete(bare.id));

console.log("v2 flow: every call passed");
