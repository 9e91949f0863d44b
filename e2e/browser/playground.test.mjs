// Browser scenario of the playground (issue 14), run by
// e2e/playground_test.go with node's test runner: the conversation page of
// a stored trace, edited and run against the fake OpenAI-compatible
// provider the Go test runs and scripts (plan.control), in Debian's
// headless Chromium driven by playwright-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const plan = JSON.parse(readFileSync(process.env.EXPLORER_PLAN, "utf8"));
const base = plan.base;
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: plan.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
});

after(async () => { await browser?.close(); });

// script tells the fake provider its next answers (openaifake.Answer).
async function script(...answers) {
  const res = await fetch(plan.control, { method: "POST", body: JSON.stringify(answers) });
  assert.equal(res.status, 200, "the fake took the script");
}

const shot = (page, name) => page.screenshot({ path: path.join(plan.screenshots, name + ".png"), fullPage: true });

test("edit a turn, run it streamed, compare, save, and see a provider's error", async (t) => {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("dialog", async (d) => { problems.push("dialog opened: " + d.message()); await d.dismiss(); });
  t.after(async () => {
    await context.close();
    assert.deepEqual(problems, [], "the page raised errors");
  });

  // From the trace page's link to the playground panel.
  await page.goto(`${base}/traces/${plan.trace_id}`);
  await page.click("a.playground");
  await page.waitForURL(/\/conversation\?span=.*#playground$/);
  const turns = page.locator("#pg-turns > .pg-turn");
  const roles = await turns.locator(".pg-role").evaluateAll((ss) => ss.map((s) => s.value));
  assert.deepEqual(roles, ["system", "user", "assistant", "tool"], "the input as editable turns");
  assert.equal(await page.locator("#pg-model").inputValue(), plan.model, "the configured model");
  assert.match(await page.locator("#pg-tools").inputValue(), /get_weather/, "the recorded tools");
  await shot(page, "playground");

  // Edit the last user turn and run from there: the answer streams in.
  const user = turns.nth(1);
  await user.locator("textarea").fill("What is the weather like in Oslo right now?");
  await script({ Text: "Sunny and 21 degrees in Oslo, with a light breeze from the fjord.", ChunkDelay: 150e6 });
  // When the answer's first text shows: measured against when the provider
  // flushed it (same machine, same clock), and reported, not asserted.
  await page.evaluate(() => {
    const el = document.querySelector("#pg-text");
    new MutationObserver((_, obs) => {
      if (el.textContent.length > 0) {
        window.firstTextShown = performance.timeOrigin + performance.now();
        obs.disconnect();
      }
    }).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await user.getByRole("button", { name: "Run from here" }).click();
  const text = page.locator("#pg-text");
  await page.locator("#pg-answer.running").waitFor();
  await page.waitForFunction(() => {
    const el = document.querySelector("#pg-text");
    return el.textContent.length > 0 && document.querySelector("#pg-answer").classList.contains("running");
  });
  const shown = await page.evaluate(() => window.firstTextShown);
  const flushed = await (await fetch(`${plan.control}?first_text=1`)).json();
  console.log(`first streamed text: provider flushed it at ${flushed.toFixed(1)} ms, the page showed it ${(shown - flushed).toFixed(1)} ms later`);
  const partial = await text.innerText();
  assert.ok(partial.length > 0 && !partial.includes("fjord"), `a part of the answer before the rest: ${partial}`);
  await shot(page, "playground-streaming");
  await page.locator("#pg-answer:not(.running)").waitFor();
  assert.equal((await text.innerText()).trim(), "Sunny and 21 degrees in Oslo, with a light breeze from the fjord.");
  assert.match(await page.locator("#pg-meta").innerText(), /tokens/);
  assert.ok(await page.locator("#pg-alert").isHidden());

  // Compare: what followed that turn in the recording, beside the new answer.
  await page.click("#pg-compare");
  assert.equal(await page.locator("#pg-compare").getAttribute("aria-pressed"), "true");
  assert.match(await page.locator("#pg-original").innerText(), /get_weather/);
  await shot(page, "playground-compare");

  // The whole conversation, saved: the original answer is the recorded one.
  await page.check("#pg-save");
  await page.click("#pg-run");
  const saved = page.locator("#pg-saved a");
  await saved.waitFor({ timeout: 30000 });
  assert.match(await text.innerText(), /Oslo/, "the fake echoes the edited question");
  assert.ok((await page.locator("#pg-original").innerText()).includes(plan.original), "the recorded answer to compare");
  await shot(page, "playground-saved");
  const savedHref = await saved.getAttribute("href");
  await page.goto(base + "/");
  const row = page.locator("#trace-rows .trace-row", { hasText: "Playground:" }).first();
  await row.waitFor();
  assert.equal(`/traces/${await row.getAttribute("data-trace")}`, savedHref, "the saved run is in the trace list");

  // View code: the same request, no key.
  await page.goto(`${base}/traces/${plan.trace_id}/conversation#playground`);
  await page.click("#pg-code > summary");
  const curl = await page.locator("#pg-code-curl").innerText();
  assert.match(curl, /\$OPENAI_API_KEY/);
  assert.match(curl, /"model": "gpt-4o-mini"/);
  assert.match(await page.locator("#pg-code-Python").innerText(), /client\.chat\.completions\.create/);
  assert.match(await page.locator("#pg-code-TypeScript").innerText(), /new OpenAI\(/);
  assert.doesNotMatch(await page.content(), /sk-fake/, "the provider's key never reaches the page");

  // The provider refuses: its message in a visible alert.
  await script({ Status: 401, Message: "Incorrect API key provided: sk-wrong***. You can find your API key at https://example.invalid.", Type: "invalid_request_error", Code: "invalid_api_key" });
  await page.click("#pg-run");
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /Incorrect API key provided/);
  await shot(page, "playground-error");
});
