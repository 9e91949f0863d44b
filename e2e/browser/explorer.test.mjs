// Browser scenarios of the trace explorer, run by e2e/explorer_test.go with
// node's test runner: Debian's headless Chromium driven by playwright-core.
// The Go test starts the collector, sends the data, and writes the plan
// (EXPLORER_PLAN) this script reads: what is stored and what to expect.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const plan = JSON.parse(readFileSync(process.env.EXPLORER_PLAN, "utf8"));
const base = plan.base;
let browser, profile;

before(async () => {
  profile = mkdtempSync(path.join(tmpdir(), "explorer-chromium-"));
  // The flags keep Chromium off the network it cannot reach here (and
  // from trying at every start); --no-sandbox because CI runs as root.
  browser = await chromium.launch({
    executablePath: plan.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
});

after(async () => {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
});

// newPage opens a page that fails the test on any script error or dialog
// (an alert would mean a stored string ran as code).
async function newPage(t, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, ...opts });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("dialog", async (d) => { problems.push("dialog opened: " + d.message()); await d.dismiss(); });
  // A page answered 401 or 404 on purpose is logged as a failed load; its
  // status is asserted where it is expected.
  page.on("console", (m) => {
    if (m.type() === "error" && !/^Failed to load resource: the server responded with a status of 40[014]/.test(m.text())) {
      problems.push("console error: " + m.text());
    }
  });
  t.after(async () => {
    await context.close();
    assert.deepEqual(problems, [], "the page raised errors");
  });
  return { page, context };
}

const shot = (page, name) => page.screenshot({ path: path.join(plan.screenshots, name + ".png"), fullPage: false });

const rowsOf = (page) => page.locator("#trace-rows .trace-row");
const rowFor = (page, id) => page.locator(`#trace-rows .trace-row[data-trace="${id}"]`);
const fmtCount = (n) => n.toLocaleString("en-US");

async function listIDs(page) {
  return page.locator("#trace-rows .trace-row").evaluateAll((rows) => rows.map((r) => r.dataset.trace));
}

test("the list shows the fixtures' traces with step composition, cost, tokens and a status dot", async (t) => {
  const { page } = await newPage(t);
  const res = await page.goto(base + "/?limit=100");
  assert.equal(res.status(), 200);
  assert.equal(await page.title(), "Traces · Opper traces");
  for (const tr of plan.traces) {
    const row = rowFor(page, tr.id);
    assert.equal(await row.count(), 1, `${tr.fixture}: trace ${tr.id} listed`);
    const text = await row.innerText();
    if (tr.name) assert.ok(text.includes(tr.name), `${tr.fixture}: name ${tr.name} in ${text}`);
    assert.match(text, new RegExp(`${fmtCount(tr.spans)} steps?`), `${tr.fixture}: step count`);
    if (tr.tokens > 0) assert.ok(text.includes(fmtCount(tr.tokens)), `${tr.fixture}: ${tr.tokens} tokens in ${text}`);
    if (tr.has_cost) assert.match(await row.locator(".c-cost").innerText(), /^\$\d/, `${tr.fixture}: cost`);
    const dot = row.locator(".dot");
    assert.equal(await dot.getAttribute("title"), tr.status, `${tr.fixture}: status dot`);
    if (tr.status === "error") assert.match(await dot.getAttribute("class"), /dot-error/);
  }
  // Composition names the LLM calls and tools.
  const withTools = plan.traces.find((tr) => tr.fixture === "openinference-tools");
  assert.match(await rowFor(page, withTools.id).locator(".composition").innerText(), /\d+ llm · \d+ tool|\d+ tool · \d+ llm/);
  await shot(page, "list");
});

test("each filter narrows the list, and a bad value says what is wrong", async (t) => {
  const { page } = await newPage(t);
  const all = plan.traces;
  const expectOnly = async (query, want, what) => {
    const res = await page.goto(base + "/?limit=100&" + query);
    assert.equal(res.status(), 200, what);
    const ids = new Set(await listIDs(page));
    for (const tr of all) {
      assert.equal(ids.has(tr.id), want(tr), `${what}: ${tr.fixture} (${tr.id})`);
    }
  };
  const named = all.find((tr) => tr.fixture === "openinference-tools");
  const word = named.name.split(/\s+/)[0].slice(0, 6);
  await expectOnly("name=" + encodeURIComponent(word), (tr) => tr.name.toLowerCase().includes(word.toLowerCase()), "name");
  // The search box drives the same filter.
  await page.goto(base + "/");
  await page.fill("#f-name", word);
  await page.press("#f-name", "Enter");
  await page.waitForURL(/name=/);
  assert.ok((await listIDs(page)).includes(named.id), "search box");

  await expectOnly("status=error", (tr) => tr.status === "error", "status=error");
  await shot(page, "list-errors");
  await expectOnly("status=ok", (tr) => tr.status === "ok", "status=ok");
  const durations = all.map((tr) => tr.duration_ms).sort((a, b) => a - b);
  const mid = durations[Math.floor(durations.length / 2)];
  await expectOnly("min_duration_ms=" + mid, (tr) => tr.duration_ns >= mid * 1e6, "min_duration_ms");
  await expectOnly("max_duration_ms=" + mid, (tr) => tr.duration_ns <= mid * 1e6, "max_duration_ms");
  const costs = all.filter((tr) => tr.has_cost).map((tr) => tr.cost).sort((a, b) => a - b);
  const cmid = costs[Math.floor(costs.length / 2)];
  await expectOnly("min_cost=" + cmid, (tr) => tr.cost >= cmid, "min_cost");
  await expectOnly("max_cost=" + cmid, (tr) => tr.cost <= cmid, "max_cost");
  const tagged = all.find((tr) => tr.tags && tr.tags.length);
  if (tagged) {
    const tag = tagged.tags[0];
    await expectOnly("tag=" + encodeURIComponent(tag), (tr) => (tr.tags || []).includes(tag), "tag");
  }
  for (const [key, field] of [["model", "models"], ["user", "users"], ["session", "sessions"], ["service", "services"]]) {
    const withIt = all.find((tr) => tr[field] && tr[field].length);
    assert.ok(withIt, `a fixture has a ${key}`);
    const v = withIt[field][0];
    await expectOnly(`${key}=${encodeURIComponent(v)}`, (tr) => (tr[field] || []).includes(v), key);
  }
  await expectOnly("from=2999-01-01T00:00:00Z", () => false, "from in the future");
  assert.match(await page.locator(".empty-row").innerText(), /No trace matches/);
  await expectOnly("to=2000-01-01T00:00:00Z", () => false, "to in the past");

  const bad = await page.goto(base + "/?min_cost=cheap");
  assert.equal(bad.status(), 400);
  assert.match(await page.locator("p.error").innerText(), /min_cost/);
  assert.equal(await page.inputValue("#f-minc"), "cheap", "the form keeps what was typed");
  await shot(page, "list-bad-filter");
});

test("clicking a trace opens its tree; clicking a generation shows its messages and model; {} shows JSON", async (t) => {
  const { page } = await newPage(t);
  const tr = plan.traces.find((x) => x.fixture === "openinference-tools");
  await page.goto(base + "/?limit=100");
  await rowFor(page, tr.id).locator(".trace-link").click();
  await page.waitForURL(new RegExp(`/traces/${tr.id}$`));
  assert.equal(await page.locator("#tree > li").count(), tr.spans, "one row per span");
  const header = await page.locator(".trace-head").innerText();
  assert.ok(header.includes(fmtCount(tr.tokens) + " tokens"), "header sums tokens: " + header);
  assert.match(header, /\$\d/, "header sums cost");
  // Every bar sits on the trace's time axis.
  const bars = await page.locator("#tree .bar").evaluateAll((els) => els.map((e) => [parseFloat(e.style.left), parseFloat(e.style.width)]));
  for (const [left, width] of bars) assert.ok(left >= 0 && width > 0 && left + width <= 100.001, `bar ${left}+${width}`);
  await shot(page, "trace");

  await page.locator(`#tree > li[data-span="${tr.generation}"]`).click();
  await page.waitForURL(new RegExp(`span=${tr.generation}`));
  await page.waitForFunction((id) => document.querySelector("#detail")?.dataset.span === id, tr.generation);
  const detail = page.locator("#detail");
  assert.equal(await detail.getAttribute("data-span"), tr.generation);
  const facts = await detail.locator(".facts").innerText();
  assert.ok(facts.includes(tr.generation_model), `model ${tr.generation_model} in ${facts}`);
  const roles = await detail.locator("section[aria-labelledby='input-h'] .msg .role").allInnerTexts();
  assert.ok(roles.length >= 2, "input rendered as turns: " + roles);
  assert.match(roles[0].toLowerCase(), /system|user/);
  assert.ok(await detail.locator(".crumbs li").count() >= 2, "breadcrumb from the root down");
  await shot(page, "span-generation");
  if (plan.readme_shot) {
    await page.setViewportSize({ width: 1280, height: 760 });
    await page.screenshot({ path: plan.readme_shot });
    await page.setViewportSize({ width: 1440, height: 900 });
  }

  const toggle = detail.locator("section[aria-labelledby='input-h'] .raw-toggle");
  await toggle.click();
  const raw = detail.locator("#input-raw");
  assert.ok(await raw.isVisible(), "{} shows the raw JSON");
  JSON.parse(await raw.innerText());
  assert.equal(await toggle.getAttribute("aria-pressed"), "true");
  await shot(page, "span-raw");
  await toggle.click();
  assert.ok(!(await raw.isVisible()), "{} again hides it");

  // The breadcrumb walks back up.
  await detail.locator(".crumbs li a[data-span-link]").first().click();
  await page.waitForFunction((id) => document.querySelector("#detail")?.dataset.span !== id, tr.generation);
});

test("Copy span puts the span's JSON on the clipboard, and ↗ opens the same view by URL", async (t) => {
  const { page, context } = await newPage(t);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const tr = plan.traces.find((x) => x.generation);
  await page.goto(`${base}/traces/${tr.id}?span=${tr.generation}`);
  await page.click(".copy-span");
  await page.waitForSelector(".copy-span.copied");
  const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  assert.equal(copied.id, tr.generation);
  assert.equal(copied.trace_id, tr.id);
  assert.ok(copied.start_time && copied.end_time, "timings");
  assert.ok("input" in copied && "output" in copied && copied.meta, "input, output and meta");

  const link = page.locator("#detail .actions a[target=_blank]");
  const href = await link.getAttribute("href");
  assert.equal(href, `/traces/${tr.id}?span=${tr.generation}`);
  const [opened] = await Promise.all([context.waitForEvent("page"), link.click()]);
  await opened.waitForLoadState();
  assert.equal(await opened.locator("#detail").getAttribute("data-span"), tr.generation, "the new tab shows the same span");
  assert.equal(await opened.locator(`#tree > li[data-span="${tr.generation}"]`).getAttribute("aria-selected"), "true");
});

test("the conversation view lists the turns in order", async (t) => {
  const { page } = await newPage(t);
  const tr = plan.traces.find((x) => x.fixture === "openinference-tools");
  await page.goto(`${base}/traces/${tr.id}`);
  await page.click("nav.tabs a:has-text('Conversation')");
  await page.waitForURL(/\/conversation$/);
  const roles = (await page.locator(".turn .msg .role").allInnerTexts()).map((r) => r.split(/\s/)[0].toLowerCase());
  assert.deepEqual(roles, ["system", "user", "assistant", "tool", "assistant"]);
  assert.equal(await page.locator(".turn .tool-call .fn").first().innerText(), "get_weather");
  assert.match(await page.locator(".turn").last().innerText(), /Stockholm/);
  await shot(page, "conversation");
  // Open in playground leads to the playground panel of the trace's last generation.
  await page.goto(`${base}/traces/${tr.id}`);
  assert.match(await page.locator("a.playground").getAttribute("href"), new RegExp(`^/traces/${tr.id}/conversation\\?span=[0-9a-f-]+#playground$`));
});

test("cost and tokens by model over the selected time range", async (t) => {
  const { page } = await newPage(t);
  await page.goto(`${base}/?to=${encodeURIComponent(plan.usage_to)}`);
  await page.click("#usage-panel > summary");
  const rows = page.locator("#usage-panel #usage-table tbody tr");
  await rows.first().waitFor();
  const got = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 3).map((td) => td.innerText.trim())));
  const want = plan.usage.map((u) => [u.Model || "(no model)", fmtCount(u.Calls), fmtCount(u.Tokens)]);
  assert.deepEqual(got, want);
  await shot(page, "usage-panel");
  // Its own page, and a model's link to its traces over the same range.
  await page.goto(`${base}/usage?to=${encodeURIComponent(plan.usage_to)}`);
  const first = plan.usage.find((u) => u.Model);
  await page.click(`#usage-table a:text-is("${first.Model}")`);
  await page.waitForURL(/model=/);
  const ids = new Set(await listIDs(page));
  for (const tr of plan.traces) assert.equal(ids.has(tr.id), (tr.models || []).includes(first.Model), `${tr.fixture} under ${first.Model}`);
});

test("a span's session leads to the session's traces in order", async (t) => {
  const { page } = await newPage(t);
  const tr = plan.traces.find((x) => x.session_span);
  assert.ok(tr, "a fixture has a session");
  await page.goto(`${base}/traces/${tr.id}?span=${tr.session_span}`);
  const link = page.locator(`#detail .facts a[href="/sessions/${encodeURIComponent(tr.sessions[0])}"]`);
  await link.click();
  await page.waitForURL(/\/sessions\//);
  assert.match(await page.locator("h1").innerText(), new RegExp(tr.sessions[0]));
  const listed = await page.locator(".session-trace").evaluateAll((els) => els.map((e) => e.dataset.trace));
  const want = plan.traces.filter((x) => (x.sessions || []).includes(tr.sessions[0])).map((x) => x.id);
  assert.deepEqual([...listed].sort(), [...want].sort());
  const times = await page.locator(".session-trace time").evaluateAll((els) => els.map((e) => Date.parse(e.getAttribute("datetime"))));
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "oldest first");
  await shot(page, "session");
  const res = await page.goto(`${base}/sessions/no-such-session`);
  assert.equal(res.status(), 404);
});

test("stored strings are text, never markup", async (t) => {
  const { page } = await newPage(t);
  await page.goto(base + "/?limit=100");
  const link = rowFor(page, plan.xss_trace).locator(".trace-link");
  assert.equal(await link.innerText(), plan.xss_name);
  await link.click();
  await page.waitForURL(/\/traces\//);
  assert.equal((await page.locator(".trace-head h1").innerText()).trim(), plan.xss_name);
  assert.equal(await page.locator("img[src=x]").count(), 0);
  await page.goto(`${base}/traces/${plan.xss_trace}/conversation`);
  assert.ok((await page.title()).includes(plan.xss_name));
});

test("a 20,000-span trace opens within 3 s, and every span can be reached", async (t) => {
  const { page } = await newPage(t);
  const start = Date.now();
  await page.goto(`${base}/traces/${plan.big_trace}`, { waitUntil: "load" });
  await page.locator("#tree > li").first().waitFor();
  const opened = Date.now() - start;
  console.log(`20,000-span trace: opened in ${opened} ms`);
  assert.ok(opened < 3000, `opened in ${opened} ms`);
  assert.match(await page.locator(".trace-head").innerText(), /20,000 steps/);
  const root = page.locator("#tree > li[data-span]").first();
  const steps = +(await root.locator(".kids").innerText());
  assert.ok(steps > 1000, `the root has ${steps} children`);
  await shot(page, "big-trace");

  // The root's children come in pages: ask for the rest until all are there.
  const t0 = Date.now();
  for (let n = 0; await page.locator("#tree > li.more").count() > 0; n++) {
    assert.ok(n < 10, "the pages end");
    // Counted before the click: counted after, a page that arrived at once
    // would be in the count, and the wait for more would never end.
    const listed = await page.locator("#tree > li[data-depth='1'][data-span]").count();
    await page.locator("#tree > li.more .more-btn").first().click();
    await page.waitForFunction((c) => document.querySelectorAll("#tree > li[data-depth='1'][data-span]").length > c, listed);
  }
  assert.equal(await page.locator("#tree > li[data-depth='1'][data-span]").count(), steps, "every child of the root is listed");
  console.log(`20,000-span trace: all ${steps} children of the root listed in ${Date.now() - t0} ms`);
  // The last step unfolds (its children are fetched) and its last child opens.
  const last = page.locator("#tree > li[data-depth='1'][data-span]").last();
  await last.scrollIntoViewIfNeeded();
  await last.locator(".fold").click();
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#tree > li[data-span]")];
    return rows[rows.length - 1].dataset.depth === "2";
  });
  const leaf = page.locator("#tree > li[data-span]").last();
  await leaf.click();
  const leafID = await leaf.getAttribute("data-span");
  await page.waitForFunction((id) => document.querySelector("#detail")?.dataset.span === id, leafID);
  assert.match(await page.locator("#detail .facts").innerText(), /gpt-4o-mini/);
  await shot(page, "big-trace-end");
  // Its URL opens the same span, with the path to it unfolded.
  const again = Date.now();
  await page.goto(`${base}/traces/${plan.big_trace}?span=${leafID}`);
  assert.equal(await page.locator(`#tree > li[data-span="${leafID}"]`).getAttribute("aria-selected"), "true");
  console.log(`20,000-span trace: opened at its last span in ${Date.now() - again} ms`);
});

test("the list and the tree can be walked with the keyboard", async (t) => {
  const { page } = await newPage(t);
  await page.goto(base + "/?limit=100");
  await page.keyboard.press("j");
  const first = await page.evaluate(() => document.activeElement.closest(".trace-row")?.dataset.trace);
  assert.ok(first, "j focuses the first trace");
  await page.keyboard.press("j");
  const second = await page.evaluate(() => document.activeElement.closest(".trace-row")?.dataset.trace);
  assert.notEqual(second, first);
  await page.keyboard.press("k");
  assert.equal(await page.evaluate(() => document.activeElement.closest(".trace-row")?.dataset.trace), first);
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`/traces/${first}`));

  const tr = plan.traces.find((x) => x.fixture === "openinference-tools");
  await page.goto(`${base}/traces/${tr.id}`);
  await page.focus("#tree > li[tabindex='0']");
  await page.keyboard.press("ArrowDown");
  const focused = await page.evaluate(() => document.activeElement.dataset.span);
  await page.keyboard.press("Enter");
  await page.waitForFunction((id) => document.querySelector("#detail")?.dataset.span === id, focused);
  await page.keyboard.press("ArrowLeft"); // to the parent
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-level")), "1");
  await page.keyboard.press("ArrowLeft"); // fold the root
  assert.equal(await page.locator("#tree > li:not([hidden])").count(), 1);
  await page.keyboard.press("ArrowRight"); // unfold
  assert.ok(await page.locator("#tree > li:not([hidden])").count() > 1);
});

test("the pages are readable in a narrow window", async (t) => {
  const { page } = await newPage(t, { viewport: { width: 390, height: 844 } });
  const tr = plan.traces.find((x) => x.fixture === "openinference-tools");
  for (const [name, url] of [["narrow-list", "/"], ["narrow-trace", `/traces/${tr.id}?span=${tr.generation}`], ["narrow-conversation", `/traces/${tr.id}/conversation`]]) {
    await page.goto(base + url);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${url}: the page is ${overflow}px wider than the window`);
    await shot(page, name);
  }
});

test("unknown traces and pages get a 404 page", async (t) => {
  const { page } = await newPage(t);
  const res = await page.goto(base + "/traces/00000000-0000-0000-0000-000000000000");
  assert.equal(res.status(), 404);
  assert.match(await page.locator("h1").innerText(), /Trace not found/);
  await shot(page, "not-found");
  const res2 = await page.goto(base + "/no/such/page");
  assert.equal(res2.status(), 404);
  assert.match(await page.locator("h1").innerText(), /Page not found/);
});

test("new traces appear without a reload", async (t) => {
  const { page } = await newPage(t);
  await page.goto(base + "/");
  const before = await rowsOf(page).count();
  const res = await fetch(base + "/v3/spans", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "arrives while you watch", start_time: new Date().toISOString(), end_time: new Date().toISOString() }),
  });
  assert.equal(res.status, 200);
  await page.locator(".trace-row.new .trace-link", { hasText: "arrives while you watch" }).waitFor({ timeout: 15000 });
  assert.ok((await rowsOf(page).count()) >= Math.min(before + 1, 50));
});

test("with api_keys the page asks for a key and shows only that project's traces", { skip: !plan.keyed }, async (t) => {
  const k = plan.keyed;
  const { page, context } = await newPage(t);
  const res = await page.goto(k.base + "/");
  assert.equal(res.status(), 401);
  assert.ok(await page.locator("input#key[type=password]").isVisible(), "a key field");
  await shot(page, "login");

  await page.fill("#key", "not-a-key");
  await page.click("button:has-text('Sign in')");
  assert.match(await page.locator("p.error").innerText(), /not valid/);

  await page.fill("#key", k.beta_key);
  await page.click("button:has-text('Sign in')");
  await page.waitForSelector("#trace-rows");
  assert.deepEqual(await listIDs(page), [k.beta_trace], "beta sees its own trace only");
  const cookie = (await context.cookies(k.base)).find((c) => c.name === "opper_explorer_key");
  assert.ok(cookie, "a cookie keeps the key");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  const other = await page.goto(`${k.base}/traces/${k.alpha_trace}`);
  assert.equal(other.status(), 404, "another project's trace is not found");

  await page.goto(k.base + "/");
  await page.click("button:has-text('Sign out')");
  await page.waitForSelector("input#key");
  await page.fill("#key", k.alpha_key);
  await page.click("button:has-text('Sign in')");
  await page.waitForSelector("#trace-rows");
  const ids = await listIDs(page);
  assert.ok(ids.includes(k.alpha_trace) && !ids.includes(k.beta_trace), "alpha sees alpha's traces, not beta's");

});
