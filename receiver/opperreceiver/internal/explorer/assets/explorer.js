// The trace explorer's script: local times, keyboard walking, folding, span
// selection without reloading the tree, the {} toggle, Copy span and live
// list updates. Every page works without it.
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

  document.addEventListener("DOMContentLoaded", () => {
    localTimes(document);
    initList();
    initTree();
  });
})();
