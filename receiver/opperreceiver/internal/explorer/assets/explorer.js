// The trace explorer's script: local times, keyboard walking, folding, span
// selection without reloading the tree, the {} toggle, Copy span, live
// list updates and the conversation page's playground. Every page but the
// playground (which needs it to run) works without it.
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // Times arrive in UTC; show them in the reader's zone, with the exact
  // instant in the tooltip.
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  function localTimes(root) {
    for (const t of $$("time[datetime]", root)) {
      const d = new Date(t.getAttribute("datetime"));
      if (isNaN(d) || d.getUTCFullYear() < 1971) continue;
      t.title = t.getAttribute("datetime");
      t.textContent = fmt.format(d);
    }
  }

  function isTyping(ev) {
    const el = ev.target;
    return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA" || el.isContentEditable);
  }

  // ---- trace list ----
  function initList() {
    const body = $("#trace-rows");
    if (!body) return;
    const links = () => $$(".trace-link", body);
    body.addEventListener("click", (ev) => {
      const row = ev.target.closest(".trace-row");
      if (!row || ev.target.closest("a") || window.getSelection().toString()) return;
      const a = $(".trace-link", row);
      if (a) (ev.metaKey || ev.ctrlKey ? window.open(a.href) : (location.href = a.href));
    });
    document.addEventListener("keydown", (ev) => {
      if (isTyping(ev) || ev.altKey || ev.ctrlKey || ev.metaKey) return;
      if (ev.key === "/") { ev.preventDefault(); $("#f-name").focus(); return; }
      const all = links();
      if (!all.length) return;
      const i = all.indexOf(document.activeElement);
      let next = -1;
      if (ev.key === "j" || ev.key === "ArrowDown") next = Math.min(all.length - 1, i + 1);
      if (ev.key === "k" || ev.key === "ArrowUp") next = i < 0 ? 0 : Math.max(0, i - 1);
      if (next >= 0) { ev.preventDefault(); all[next].focus(); }
    });
    if (body.dataset.live === "true") live(body);
    usagePanel();
  }

  // The usage by model is fetched when its panel is first opened, so the
  // list itself never waits for it.
  function usagePanel() {
    const panel = $("#usage-panel");
    if (!panel) return;
    panel.addEventListener("toggle", async () => {
      if (!panel.open || panel.dataset.loaded) return;
      panel.dataset.loaded = "true";
      const target = $(".usage-body", panel);
      try {
        const res = await fetch(panel.dataset.src, { credentials: "same-origin" });
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const table = $("#usage-table", doc);
        if (!res.ok || !table) throw new Error(res.status);
        target.replaceWith(table);
      } catch (e) {
        target.textContent = "Could not load the usage; open it on its own page.";
        delete panel.dataset.loaded;
      }
    });
  }

  // New traces appear without a reload: the first page asks for itself
  // again every few seconds while visible, and swaps in rows that changed.
  function live(body) {
    let busy = false;
    async function refresh() {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const res = await fetch(location.href, { headers: { "Accept": "text/html" }, cache: "no-store", credentials: "same-origin" });
        if (!res.ok) return;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = $("#trace-rows", doc);
        if (!fresh) return;
        const known = new Set($$(".trace-row", body).map((r) => r.dataset.trace + r.dataset.status));
        const rows = $$(".trace-row", fresh);
        const changed = rows.length !== known.size || rows.some((r) => !known.has(r.dataset.trace + r.dataset.status));
        if (!changed) return;
        const focused = document.activeElement && document.activeElement.closest(".trace-row");
        const focusedID = focused && focused.dataset.trace;
        for (const r of rows) if (!known.has(r.dataset.trace + r.dataset.status)) r.classList.add("new");
        body.replaceChildren(...fresh.childNodes);
        const total = $("#trace-total"), freshTotal = $("#trace-total", doc);
        if (total && freshTotal) total.textContent = freshTotal.textContent;
        localTimes(body);
        if (focusedID) { const a = $(`.trace-row[data-trace="${CSS.escape(focusedID)}"] .trace-link`, body); if (a) a.focus(); }
      } catch (e) { /* the collector may be restarting; try again later */ }
      finally { busy = false; }
    }
    setInterval(refresh, 5000);
  }

  // ---- trace tree ----
  // Rows are server-rendered in depth-first order with data-depth; a large
  // trace sends folded spans without their children (data-lazy) and long
  // child lists in pages ("more" rows): both are fetched on demand.
  function initTree() {
    const tree = $("#tree");
    if (!tree) return;
    const traceID = tree.dataset.trace;
    let rows, depth, index;
    function scan() {
      rows = Array.from(tree.children);
      depth = rows.map((r) => +r.dataset.depth);
      index = new Map();
      rows.forEach((r, i) => { if (r.dataset.span) index.set(r.dataset.span, i); });
    }
    scan();

    async function fetchRows(parent, offset, count) {
      const q = new URLSearchParams({ parent, offset: String(offset), count: String(count) });
      const res = await fetch(`/traces/${traceID}/tree?${q}`, { credentials: "same-origin" });
      if (!res.ok) throw new Error("tree rows: " + res.status);
      return res.text();
    }
    async function setOpen(i, open) {
      let row = rows[i];
      if (!row.hasAttribute("aria-expanded")) return;
      if (open && row.hasAttribute("data-lazy")) {
        row.removeAttribute("data-lazy");
        row.insertAdjacentHTML("afterend", await fetchRows(row.dataset.span, 0, 200));
        scan();
        i = rows.indexOf(row);
      }
      row.setAttribute("aria-expanded", String(open));
      const b = $(".fold", row);
      if (b) b.textContent = open ? "▾" : "▸";
      let skip = open ? Infinity : -1;
      for (let j = i + 1; j < rows.length && depth[j] > depth[i]; j++) {
        if (!open || depth[j] > skip) { rows[j].hidden = true; continue; }
        skip = Infinity;
        rows[j].hidden = false;
        if (rows[j].getAttribute("aria-expanded") === "false") skip = depth[j];
      }
    }
    async function loadMore(li) {
      const btn = $(".more-btn", li);
      btn.disabled = true;
      btn.textContent = "Loading…";
      try {
        li.insertAdjacentHTML("beforebegin", await fetchRows(li.dataset.parent, +li.dataset.more, Math.min(+li.dataset.count, 1000)));
        li.remove();
        scan();
      } catch (e) {
        btn.disabled = false;
        btn.textContent = "Could not load; try again";
      }
    }
    function visible(i, step) {
      for (let j = i + step; j >= 0 && j < rows.length; j += step) if (!rows[j].hidden) return j;
      return -1;
    }
    function focusRow(i) {
      if (i < 0) return;
      for (const r of tree.querySelectorAll('[tabindex="0"]')) r.tabIndex = -1;
      rows[i].tabIndex = 0;
      rows[i].focus();
    }
    async function select(row, push) {
      const id = row.dataset.span;
      for (const r of tree.querySelectorAll('[aria-selected="true"]')) r.removeAttribute("aria-selected");
      row.setAttribute("aria-selected", "true");
      const url = `/traces/${traceID}?span=${encodeURIComponent(id)}`;
      if (push) history.pushState({ span: id }, "", url);
      const nt = $("#open-newtab");
      if (nt) nt.href = url;
      const pane = $("#detail-pane");
      const old = $("#detail");
      if (old) old.classList.add("loading");
      try {
        const res = await fetch(`/traces/${traceID}/spans/${encodeURIComponent(id)}`, { credentials: "same-origin" });
        if (!res.ok) throw new Error(res.status);
        pane.innerHTML = await res.text();
        localTimes(pane);
      } catch (e) {
        location.href = url; // let the server render it whole
      }
    }

    tree.addEventListener("click", (ev) => {
      const row = ev.target.closest("li");
      if (!row || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      ev.preventDefault();
      if (row.classList.contains("more")) { loadMore(row); return; }
      const i = rows.indexOf(row);
      if (ev.target.closest(".fold")) { setOpen(i, row.getAttribute("aria-expanded") !== "true"); return; }
      focusRow(i);
      select(row, true);
    });
    tree.addEventListener("keydown", (ev) => {
      const row = ev.target.closest("li");
      if (!row) return;
      const i = rows.indexOf(row);
      const open = row.getAttribute("aria-expanded");
      switch (ev.key) {
        case "ArrowDown": focusRow(visible(i, 1)); break;
        case "ArrowUp": focusRow(visible(i, -1)); break;
        case "Home": focusRow(0); break;
        case "End": focusRow(visible(rows.length, -1)); break;
        case "ArrowRight":
          if (open === "false") setOpen(i, true);
          else if (open === "true") focusRow(visible(i, 1));
          break;
        case "ArrowLeft":
          if (open === "true") setOpen(i, false);
          else { const p = index.get(row.dataset.parent); if (p !== undefined) focusRow(p); }
          break;
        case "Enter": case " ":
          if (row.classList.contains("more")) loadMore(row); else select(row, true);
          break;
        default: return;
      }
      ev.preventDefault();
    });
    window.addEventListener("popstate", () => {
      const id = new URLSearchParams(location.search).get("span");
      const i = id ? index.get(id) : 0;
      if (i === undefined) { location.reload(); return; }
      select(rows[i], false);
    });
    // Breadcrumb links select within the loaded tree (the path to the
    // selected span is always rendered).
    document.addEventListener("click", (ev) => {
      const crumb = ev.target.closest("[data-span-link]");
      if (!crumb || ev.metaKey || ev.ctrlKey) return;
      const i = index.get(crumb.dataset.spanLink);
      if (i === undefined || rows[i].hidden) return;
      ev.preventDefault();
      focusRow(i);
      rows[i].scrollIntoView({ block: "nearest" });
      select(rows[i], true);
    });
    const sel = tree.querySelector('[aria-selected="true"]');
    if (sel && new URLSearchParams(location.search).get("span")) sel.scrollIntoView({ block: "center" });
  }

  // ---- span detail (delegated: the detail is replaced on selection) ----
  document.addEventListener("click", async (ev) => {
    const toggle = ev.target.closest(".raw-toggle");
    if (toggle) {
      const box = toggle.closest(".box");
      const raw = $(".raw", box), rendered = $(".rendered", box);
      const on = toggle.getAttribute("aria-pressed") !== "true";
      toggle.setAttribute("aria-pressed", String(on));
      raw.hidden = !on;
      rendered.hidden = on;
      return;
    }
    const copy = ev.target.closest(".copy-span");
    if (copy) {
      const text = document.getElementById(copy.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (e) {
        const ta = document.createElement("textarea");
        ta.value = text;
        document.body.append(ta);
        ta.select();
        document.execCommand("copy");
        ta.remove();
      }
      copy.classList.add("copied");
      copy.textContent = "Copied";
      setTimeout(() => { copy.classList.remove("copied"); copy.textContent = "Copy span"; }, 1500);
      return;
    }
  });

  // ---- playground (conversation page) ----
  // The server renders the generation's messages as form fields; this
  // reads them back into canonical messages, posts a run and shows the
  // streamed answer (server-sent events read from fetch's body).
  function initPlayground() {
    const form = $("#pg-form");
    const dataEl = $("#pg-data");
    if (!form || !dataEl) return;
    const data = JSON.parse(dataEl.textContent);
    const conv = data.conversation;
    const list = $("#pg-turns"), tpl = $("#pg-turn-template");
    const alertBox = $("#pg-alert"), answer = $("#pg-answer"), original = $("#pg-original");
    const text = $("#pg-text"), calls = $("#pg-calls"), reasoning = $("#pg-reasoning"), meta = $("#pg-meta"), saved = $("#pg-saved");
    const runBtn = $("#pg-run"), stopBtn = $("#pg-stop"), compare = $("#pg-compare");
    const origBody = $(".pg-original-body", original), origHTML = origBody.innerHTML;
    let seq = 0, controller = null;

    function renumber() {
      for (const li of $$(".pg-turn", list)) {
        const sel = $(".pg-role", li);
        const id = "pg-role-n" + (seq++);
        sel.id = id;
        $("label[for]", li).htmlFor = id;
      }
    }
    list.addEventListener("change", (ev) => {
      const sel = ev.target.closest(".pg-role");
      if (sel) sel.closest(".pg-turn").className = "pg-turn msg msg-" + sel.value;
    });
    $("#pg-add").addEventListener("click", () => {
      const li = tpl.content.firstElementChild.cloneNode(true);
      li.dataset.orig = "-1";
      const last = $$(".pg-turn", list).pop();
      if (last && $(".pg-role", last).value === "user") {
        $(".pg-role", li).value = "assistant";
        li.className = "pg-turn msg msg-assistant";
      }
      list.append(li);
      renumber();
      $("textarea", li).focus();
    });
    list.addEventListener("click", (ev) => {
      const li = ev.target.closest(".pg-turn");
      if (!li) return;
      if (ev.target.closest(".pg-remove")) {
        const next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        (next ? $(".pg-role", next) : $("#pg-add")).focus();
      } else if (ev.target.closest(".pg-run-here")) {
        run($$(".pg-turn", list).indexOf(li) + 1);
      }
    });
    form.addEventListener("submit", (ev) => { ev.preventDefault(); run(Infinity); });
    stopBtn.addEventListener("click", () => controller && controller.abort());
    compare.addEventListener("click", () => {
      const on = compare.getAttribute("aria-pressed") !== "true";
      compare.setAttribute("aria-pressed", String(on));
      original.hidden = !on;
      $("#pg-results").classList.toggle("compare", on);
    });

    // messages reads the first n turns; a JSON field that does not parse
    // is the user's to fix, named in the alert.
    function messages(n) {
      const out = [];
      $$(".pg-turn", list).slice(0, n).forEach((li, i) => {
        const m = { role: $(".pg-role", li).value, parts: [] };
        if (li.dataset.name) m.name = li.dataset.name;
        for (const ta of $$("textarea.pg-part", li)) {
          if (ta.dataset.kind === "text") { m.parts.push({ type: "text", content: ta.value }); continue; }
          try { m.parts.push(JSON.parse(ta.value)); } catch (e) {
            ta.focus();
            throw new Error(`Turn ${i + 1}: the part is not valid JSON (${e.message}).`);
          }
        }
        out.push(m);
      });
      return out;
    }
    function number(id) {
      const v = $(id).value.trim();
      return v === "" ? undefined : Number(v);
    }
    function request(n) {
      const params = {};
      for (const [k, id] of [["temperature", "#pg-temperature"], ["max_tokens", "#pg-max-tokens"], ["top_p", "#pg-top-p"]]) {
        const v = number(id);
        if (v !== undefined && !isNaN(v)) params[k] = v;
      }
      let tools;
      try { tools = JSON.parse($("#pg-tools").value.trim() || "[]"); } catch (e) {
        $("#pg-tools").closest("details").open = true;
        $("#pg-tools").focus();
        throw new Error("Tools are not valid JSON: " + e.message);
      }
      if (!Array.isArray(tools)) throw new Error("Tools must be a JSON list of tool definitions.");
      return { trace_id: data.trace_id, span_id: data.span_id, model: $("#pg-model").value, messages: messages(n),
        parameters: params, tools, save: $("#pg-save").checked };
    }

    // The original answer to compare with is what followed the last turn
    // sent in the recorded conversation.
    function originalAfter(n) {
      const lis = $$(".pg-turn", list).slice(0, n);
      const last = lis.length ? +lis[lis.length - 1].dataset.orig : -1;
      if (n >= $$(".pg-turn", list).length || last < 0) { origBody.innerHTML = origHTML; return; } // the server's own markup
      const follow = [];
      for (let i = last + 1; i < conv.messages.length && conv.messages[i].role === "assistant"; i++) follow.push(conv.messages[i]);
      origBody.replaceChildren(...(follow.length ? follow.map(messageEl) : [Object.assign(document.createElement("p"), { className: "muted empty", textContent: "The recorded conversation has no answer right after this turn." })]));
    }

    function showError(msg, detail) {
      alertBox.replaceChildren();
      const strong = document.createElement("strong");
      strong.textContent = msg;
      alertBox.append(strong);
      if (detail) { const d = document.createElement("div"); d.className = "muted"; d.textContent = detail; alertBox.append(d); }
      alertBox.hidden = false;
    }

    async function run(n) {
      let req;
      try { req = request(n); } catch (e) { showError(e.message); return; }
      if (!req.messages.length) { showError("Add a turn to send."); return; }
      alertBox.hidden = true;
      answer.hidden = false;
      text.textContent = "";
      calls.replaceChildren();
      reasoning.hidden = true;
      $(".text", reasoning).textContent = "";
      saved.hidden = true;
      meta.textContent = "running " + req.model + "…";
      answer.classList.add("running");
      originalAfter(n);
      runBtn.disabled = true;
      stopBtn.hidden = false;
      controller = new AbortController();
      try {
        const res = await fetch(data.run_path, {
          method: "POST", credentials: "same-origin", signal: controller.signal,
          headers: { "Content-Type": "application/json", "Accept": "text/event-stream" }, body: JSON.stringify(req),
        });
        if (!res.ok || !(res.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
          let msg = `The run failed (HTTP ${res.status}).`;
          try { const b = await res.json(); if (b.error && b.error.message) msg = b.error.message; } catch (e) { /* not JSON */ }
          if (res.ok) msg = "The server did not answer with a stream.";
          throw Object.assign(new Error(msg), { shown: true });
        }
        await readEvents(res.body, onEvent);
      } catch (e) {
        if (e.name === "AbortError") meta.textContent = "stopped";
        else showError(e.shown ? e.message : "The run could not reach the collector: " + e.message);
        if (meta.textContent.startsWith("running")) meta.textContent = "";
      } finally {
        if (!alertBox.hidden && !text.textContent && !calls.childElementCount) answer.hidden = true;
        answer.classList.remove("running");
        runBtn.disabled = false;
        stopBtn.hidden = true;
        controller = null;
      }
    }

    function onEvent(name, payload) {
      let d;
      try { d = JSON.parse(payload); } catch (e) { return; }
      switch (name) {
        case "delta":
          if (d.text) text.textContent += d.text;
          if (d.reasoning) { reasoning.hidden = false; $(".text", reasoning).textContent += d.reasoning; }
          break;
        case "tool_call":
          calls.append(partEl(d));
          break;
        case "done": {
          if (d.message && d.message.parts) {
            // The final message is the answer of record: text the deltas
            // already showed, tool calls not yet streamed.
            const texts = d.message.parts.filter((p) => p.type === "text").map((p) => p.content).join("");
            if (texts) text.textContent = texts;
            if (!calls.childElementCount) for (const p of d.message.parts) if (p.type === "tool_call") calls.append(partEl(p));
          }
          const u = d.usage || {};
          const bits = [d.model || ""];
          if (u.total_tokens) bits.push(`${u.input_tokens} in · ${u.output_tokens} out · ${u.total_tokens} tokens`);
          meta.textContent = bits.filter(Boolean).join(" · ");
          if (d.trace_id) {
            const a = document.createElement("a");
            a.href = "/traces/" + encodeURIComponent(d.trace_id);
            a.textContent = "Open the saved run";
            saved.replaceChildren("Saved as a trace. ", a);
            saved.hidden = false;
          }
          break;
        }
        case "error": {
          const who = [d.provider, d.status ? "HTTP " + d.status : ""].filter(Boolean).join(", ");
          showError(d.message || "The provider failed.", (who ? "From " + who + ". " : "") + (d.retryable ? "This may pass if you run again." : ""));
          meta.textContent = "failed";
          break;
        }
      }
    }

    function partEl(p) {
      const div = document.createElement("div");
      div.className = p.type === "tool_call" ? "tool-call" : "unknown";
      const head = document.createElement("div");
      head.className = "call-head";
      const badge = document.createElement("span");
      badge.className = "badge badge-tool";
      badge.textContent = p.type === "tool_call" ? "tool call" : p.type;
      const fn = document.createElement("code");
      fn.className = "fn";
      fn.textContent = p.name || "";
      head.append(badge, " ", fn);
      const pre = document.createElement("pre");
      pre.className = "json";
      pre.textContent = JSON.stringify(p.type === "tool_call" ? p.arguments : (p.response || p), null, 2) || "";
      div.append(head, pre);
      return div;
    }
    function messageEl(m) {
      const div = document.createElement("div");
      div.className = "msg msg-" + m.role;
      const role = document.createElement("div");
      role.className = "role";
      role.textContent = m.role;
      div.append(role);
      for (const p of m.parts || []) {
        if (p.type === "text" || p.type === "reasoning") {
          const t = document.createElement("div");
          t.className = "text";
          t.textContent = p.content || "";
          div.append(t);
        } else div.append(partEl(p));
      }
      return div;
    }

    // ---- View code ----
    const code = $("#pg-code");
    function chatMessages(msgs) {
      const out = [];
      for (const m of msgs) {
        const texts = m.parts.filter((p) => p.type === "text").map((p) => p.content).join("");
        const toolCalls = m.parts.filter((p) => p.type === "tool_call").map((p) => ({ id: p.id, type: "function",
          function: { name: p.name, arguments: typeof p.arguments === "string" ? p.arguments : JSON.stringify(p.arguments ?? {}) } }));
        const results = m.parts.filter((p) => p.type === "tool_call_response");
        if (m.role === "tool" && results.length) {
          for (const r of results) out.push({ role: "tool", tool_call_id: r.id, content: typeof r.response === "string" ? r.response : JSON.stringify(r.response) });
          continue;
        }
        const c = { role: m.role, content: texts || (toolCalls.length ? null : "") };
        if (m.name && m.role !== "tool") c.name = m.name;
        if (toolCalls.length) c.tool_calls = toolCalls;
        out.push(c);
      }
      return out;
    }
    function snippets() {
      let req;
      try { req = request(Infinity); } catch (e) { return null; }
      const body = { model: req.model, messages: chatMessages(req.messages), ...req.parameters };
      if (req.tools.length) body.tools = req.tools;
      const json = JSON.stringify(body, null, 2);
      const provider = $("#pg-model").selectedOptions[0]?.dataset.provider || "";
      // JSON is a Python literal once its true, false and null (outside
      // strings) are spelled Python's way.
      const py = json.replace(/"(?:[^"\\]|\\.)*"|\b(?:true|false|null)\b/g, (m) => ({ true: "True", false: "False", null: "None" })[m] || m);
      return {
        curl: `# provider: ${provider}\ncurl "$OPENAI_BASE_URL/chat/completions" \\\n  -H "Authorization: Bearer $OPENAI_API_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d @- <<'JSON'\n${json}\nJSON`,
        Python: `# provider: ${provider}; pip install openai\nimport os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])\nrequest = ${py}\nresponse = client.chat.completions.create(**request)\nprint(response.choices[0].message)`,
        TypeScript: `// provider: ${provider}; npm install openai\nimport OpenAI from "openai";\n\nconst client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });\nconst response = await client.chat.completions.create(${json});\nconsole.log(response.choices[0].message);`,
      };
    }
    function renderCode() {
      if (!code.open) return;
      const s = snippets();
      for (const lang of ["curl", "Python", "TypeScript"]) {
        const pre = document.getElementById("pg-code-" + lang);
        pre.textContent = s ? s[lang] : "Fix the JSON fields above to see the code.";
      }
    }
    code.addEventListener("toggle", renderCode);
    form.addEventListener("input", renderCode);
    form.addEventListener("change", renderCode);
    code.addEventListener("click", async (ev) => {
      const b = ev.target.closest(".copy-code");
      if (!b) return;
      try { await navigator.clipboard.writeText(document.getElementById(b.dataset.copy).textContent); b.textContent = "Copied"; }
      catch (e) { b.textContent = "Select and copy"; }
      setTimeout(() => { b.textContent = "Copy"; }, 1500);
    });
    renumber();
  }

  // readEvents parses a text/event-stream body as it arrives and calls
  // onEvent(name, data) for each event.
  async function readEvents(body, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let name = "message";
        const lines = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) lines.push(line.slice(5).replace(/^ /, ""));
        }
        if (lines.length) onEvent(name, lines.join("\n"));
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes(document);
    initList();
    initTree();
    initPlayground();
  });
})();
