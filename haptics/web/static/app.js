// The annotation workbench's browser side: plain JS and canvas, no dependencies.
// Every rule is enforced by the API; this only draws and sends.
"use strict";

const S = { me: null, csrf: "", view: null };
const $ = (sel) => document.querySelector(sel);
const COLORS = ["#1e88e5", "#e53935", "#43a047", "#8e24aa", "#fb8c00", "#00897b", "#6d4c41"];

async function api(path, opts = {}) {
  const init = { credentials: "same-origin", headers: {} };
  if (opts.body !== undefined) {
    init.method = "POST";
    init.headers["content-type"] = "application/json";
    init.headers["x-csrf-token"] = S.csrf;
    init.body = JSON.stringify(opts.body);
  }
  const r = await fetch(path, init);
  const data = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

function showError(err) {
  const box = $("#error") || $("#main").appendChild(el("p", { id: "error", class: "error" }));
  box.textContent = String(err.message || err);
}

// -- login and routing --------------------------------------------------------------------
async function start() {
  try {
    const me = await api("/api/me");
    S.me = me; S.csrf = me.csrf;
  } catch (_e) { return loginPage(); }
  $("#nav").hidden = false;
  $("#who").textContent = `${S.me.user} (${S.me.role})`;
  $("#nav-review").hidden = !["reviewer", "admin"].includes(S.me.role);
  route();
}

function loginPage() {
  const f = el("form", { class: "login", id: "login" },
    el("input", { name: "user", placeholder: "user", autocomplete: "username" }),
    el("input", { name: "password", type: "password", placeholder: "password",
                  autocomplete: "current-password" }),
    el("button", { type: "submit" }, "log in"));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/login", { body: { user: f.user.value, password: f.password.value } });
      start();
    } catch (e) { showError(e); }
  });
  $("#main").replaceChildren(f);
}

$("#logout").addEventListener("click", async () => {
  await api("/api/logout", { body: {} }).catch(() => null);
  location.hash = "#/"; location.reload();
});

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const go = {
    "": () => queuePage(),
    session: () => sessionPage(parts[1], null),
    review: () => (parts[1] ? sessionPage(parts[1], { taxonomy: parts[2], key: parts[3] })
                            : reviewQueuePage()),
  }[parts[0]] || (() => queuePage());
  go().catch(showError);
}
window.addEventListener("hashchange", () => S.me && route());

// -- my queue -----------------------------------------------------------------------------
async function queuePage() {
  const q = await api("/api/queue");
  const pct = q.assigned ? Math.round((100 * q.done) / q.assigned) : 0;
  const rows = q.items.map((i) => el("tr", {},
    el("td", {}, el("a", { href: `#/session/${encodeURIComponent(i.session_id)}` }, i.session_id)),
    el("td", {}, `${i.taxonomy}/${i.key}`), el("td", {}, i.reason),
    el("td", {}, i.rationale || "")));
  $("#main").replaceChildren(
    el("h2", {}, "My queue"),
    el("p", { id: "progress" }, `${q.done} of ${q.assigned} items done `,
       el("span", { class: "progress" }, el("div", { style: `width:${pct}%` }))),
    el("table", { id: "queue" }, el("tr", {}, el("th", {}, "session"), el("th", {}, "item"),
                                   el("th", {}, "why"), el("th", {}, "note")), ...rows));
}

// -- review queue -------------------------------------------------------------------------
async function reviewQueuePage() {
  const q = await api("/api/review/queue");
  const rows = q.map((i) => el("tr", {},
    el("td", {}, el("a", { href: `#/review/${[i.session_id, i.taxonomy, i.key]
      .map(encodeURIComponent).join("/")}` }, `${i.session_id} ${i.taxonomy}/${i.key}`)),
    el("td", {}, (i.reasons || []).join("; "))));
  $("#main").replaceChildren(el("h2", {}, "Review queue"),
    el("table", { id: "review-queue" }, ...rows));
}

// -- the session view ---------------------------------------------------------------------
// Panels come from the traces the server sends (one canvas per panel name, in its order),
// each with a y axis of its own in the left gutter (AXIS_W px): auto-scaled to the data in
// the window, or locked by a double-click on the axis. Time runs from AXIS_W to the right
// edge on every canvas, so one x means one time everywhere.
const PANEL_ORDER = ["position", "force", "depth"];
const PANEL_H = 120, STREAM_H = 90, LANE_H = 18, AXIS_W = 56, TIME_H = 20, VIDEO_W = 320;

async function sessionPage(sid, reviewItem) {
  const info = await api(`/api/sessions/${encodeURIComponent(sid)}`);
  const rec = info.session;
  const v = S.view = {
    sid, rec, info, reviewItem, t0: rec.start_ns, t1: rec.end_ns, data: null,
    sel: null, cursor: null, drafts: [], review: null, lowIdx: -1, edit: null,
    panels: [], locks: {}, scales: {}, video: null, frames: null, ourSeek: null,
    items: reviewItem ? [reviewItem] : info.assigned,
  };
  v.item = v.items[0] || null;
  const room = window.innerWidth - 40 - (info.video ? VIDEO_W + 16 : 0);
  v.width = Math.max(600, Math.min(1800, room));
  v.canvases = {};
  const plots = el("div", { class: "plots", id: "plots" },
    el("div", { id: "panels" }),
    el("div", { id: "cursor", class: "cursor", hidden: "" }));
  const lanes = el("canvas", { width: v.width, height: LANE_H * 3, id: "lanes", "data-panel": "labels" });
  const axis = el("canvas", { width: v.width, height: TIME_H, id: "time-axis", "data-panel": "time" });
  v.canvases.labels = lanes; v.canvases.time = axis;
  plots.append(lanes, axis);
  const itemSel = el("select", { id: "item" }, ...v.items.map((it, i) =>
    el("option", { value: i }, `${it.taxonomy}/${it.key}`)));
  itemSel.addEventListener("change", () => { v.item = v.items[+itemSel.value]; drawAll(); legend(); });
  const row = el("div", { class: "view" }, plots);
  if (info.video) row.append(videoBox(v));
  $("#main").replaceChildren(
    el("h2", {}, `${reviewItem ? "Review" : "Session"} ${sid}`),
    el("div", { class: "toolbar" }, el("span", {}, "item: "), itemSel,
       el("span", { class: "legend", id: "legend" }),
       el("span", { class: "hint" }, "wheel: zoom · shift+drag: pan · drag: select (drag its edges to adjust) · ",
          "click: instant · double-click an axis: lock its scale · ",
          ...(info.video ? [el("span", { class: "kbd" }, "space"), " play · "] : []),
          el("span", { class: "kbd" }, "0"), " whole session")),
    ...(info.video_problem ? [el("p", { class: "error", id: "video-problem" }, `no video: ${info.video_problem}`)] : []),
    row,
    el("div", { id: "side" }));
  bindMouse(lanes); bindMouse(axis);
  legend();
  if (reviewItem) await loadReview(); else sideDrafts();
  await fetchView();
}

function keyOf(item) {
  if (!item) return null;
  return S.view.info.keys.find((k) => k.taxonomy === item.taxonomy && k.key === item.key);
}

function legend() {
  const k = keyOf(S.view.item);
  const box = $("#legend");
  if (!k) { box.textContent = ""; return; }
  box.replaceChildren(...k.values.map((val, i) =>
    el("span", {}, el("span", { class: "kbd" }, String(i + 1)), ` ${val}`)));
  if (k.target === "session") sessionForm(k);
}

async function fetchView() {
  const v = S.view;
  const q = `t0_ns=${Math.round(v.t0)}&t1_ns=${Math.round(v.t1)}&width=${v.width - AXIS_W}`;
  const data = await api(`/api/sessions/${encodeURIComponent(v.sid)}/view?${q}`);
  for (const tr of data.traces) { tr.t_ms = unpack(tr.t_ms, Float64Array); tr.y = unpack(tr.y, Float32Array); }
  if (S.view !== v) return;  // the page changed meanwhile
  if (data.t0_ns === Math.round(v.t0) && data.t1_ns === Math.round(v.t1)) {
    v.data = data; ensurePanels(data); drawAll();
  }
}

function unpack(b64, Type) {  // the server sends samples as base64 of little-endian arrays
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Type(bytes.buffer);
}

function ensurePanels(data) {  // the server's display order; else core panels first
  const v = S.view, names = [...(data.panels || [])];
  for (const t of data.traces) if (!names.includes(t.panel)) names.push(t.panel);
  const rank = (p) => (PANEL_ORDER.includes(p) ? PANEL_ORDER.indexOf(p) : PANEL_ORDER.length);
  if (!data.panels) names.sort((a, b) => rank(a) - rank(b));
  if (names.join("\n") === v.panels.join("\n")) return;
  v.panels = names;
  const box = $("#panels");
  for (const p of Object.keys(v.canvases)) if (p !== "labels" && p !== "time") delete v.canvases[p];
  box.replaceChildren(...names.map((p) => {
    const c = el("canvas", { width: v.width, height: PANEL_ORDER.includes(p) ? PANEL_H : STREAM_H, "data-panel": p });
    v.canvases[p] = c; bindMouse(c); return c;
  }));
}

const plotW = () => S.view.width - AXIS_W;
const xOf = (t) => AXIS_W + ((t - S.view.t0) / (S.view.t1 - S.view.t0)) * plotW();
const tOf = (x) => S.view.t0 + ((x - AXIS_W) / plotW()) * (S.view.t1 - S.view.t0);

function drawAll() {
  const v = S.view;
  if (!v.data) return;
  for (const p of v.panels) drawPanel(p);
  drawLanes(); drawTimeAxis(); placeCursor();
}

// "nice" ticks (1, 2, 5 × 10^n) over [lo, hi], about `n` of them
function ticks(lo, hi, n) {
  const raw = (hi - lo) / Math.max(1, n), mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let x = Math.ceil(lo / step) * step; x <= hi + step * 1e-9; x += step) out.push(x);
  return { step, values: out };
}

function tickLabel(x, step) {
  if (Math.abs(x) < step * 1e-6) return "0";
  if (step >= 1e5 || step < 1e-4) return x.toExponential(Math.max(0, Math.round(Math.log10(Math.abs(x) / step))));
  return x.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

function autoRange(lines) {  // min and max of the samples inside the window
  const v = S.view, a = (v.t0 - v.data.t0_ns) / 1e6, b = (v.t1 - v.data.t0_ns) / 1e6;
  let lo = Infinity, hi = -Infinity;
  for (const l of lines) l.t_ms.forEach((t, j) => {
    const y = l.y[j];
    if (t >= a && t <= b && Number.isFinite(y)) { if (y < lo) lo = y; if (y > hi) hi = y; }
  });
  if (lo === Infinity) return [-1, 1];
  if (!(hi > lo)) { const d = Math.abs(lo) * 0.1 || 1; return [lo - d, hi + d]; }
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

function drawPanel(panel) {
  const v = S.view, c = v.canvases[panel], g = c.getContext("2d"), W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  const lines = v.data.traces.filter((t) => t.panel === panel);
  const [lo, hi] = v.locks[panel] || autoRange(lines);
  v.scales[panel] = [lo, hi];
  const yOf = (y) => H - 4 - ((y - lo) / (hi - lo)) * (H - 8);
  g.save(); g.beginPath(); g.rect(AXIS_W, 0, W - AXIS_W, H); g.clip();
  shade(g, H);
  const tk = ticks(lo, hi, Math.floor(H / 28));
  g.fillStyle = "#eceff1";
  for (const y of tk.values) g.fillRect(AXIS_W, Math.round(yOf(y)), W - AXIS_W, 1);
  lines.forEach((l, i) => {
    g.strokeStyle = COLORS[i % COLORS.length]; g.beginPath();
    const toNs = (ms) => v.data.t0_ns + ms * 1e6;
    l.t_ms.forEach((t, j) => { const x = xOf(toNs(t)), y = yOf(l.y[j]);
      if (j) g.lineTo(x, y); else g.moveTo(x, y); });
    g.stroke();
  });
  if (panel === (v.panels.includes("depth") ? "depth" : v.panels[v.panels.length - 1])) {
    for (const e of v.data.events) { g.fillStyle = "#000"; g.fillRect(xOf(e.t_ns), 0, 1, H); }
  }
  g.restore();
  // the y axis: ticks, their labels, the unit; a locked axis says so
  g.fillStyle = v.locks[panel] ? "#fff8e1" : "#f5f7f8"; g.fillRect(0, 0, AXIS_W, H);
  g.fillStyle = "#90a4ae"; g.fillRect(AXIS_W - 1, 0, 1, H);
  g.font = "10px system-ui, sans-serif"; g.textAlign = "right"; g.textBaseline = "middle";
  g.fillStyle = "#37474f";
  for (const y of tk.values) {
    const py = yOf(y);
    if (py < 8 || py > H - 6) continue;
    g.fillRect(AXIS_W - 5, Math.round(py), 4, 1);
    g.fillText(tickLabel(y, tk.step), AXIS_W - 7, py);
  }
  const units = [...new Set(lines.map((l) => l.unit))];
  g.textAlign = "left"; g.textBaseline = "alphabetic"; g.font = "bold 10px system-ui, sans-serif";
  g.fillText(units.join(", "), 3, 11);
  if (v.locks[panel]) { g.font = "10px system-ui, sans-serif"; g.fillStyle = "#e65100"; g.fillText("locked", 3, H - 4); }
  g.font = "11px system-ui, sans-serif";
  lines.forEach((l, i) => {
    g.fillStyle = COLORS[i % COLORS.length];
    g.fillText(`${l.name} (${l.unit})`, AXIS_W + 6 + 120 * i, 12);
  });
  g.fillStyle = "#555"; g.textAlign = "right"; g.fillText(panel, W - 6, 12); g.textAlign = "left";
}

function drawTimeAxis() {
  const v = S.view, c = v.canvases.time, g = c.getContext("2d"), W = c.width;
  g.clearRect(0, 0, W, c.height);
  const a = (v.t0 - v.rec.start_ns) / 1e9, b = (v.t1 - v.rec.start_ns) / 1e9;
  const tk = ticks(a, b, Math.floor(plotW() / 90));
  g.font = "10px system-ui, sans-serif"; g.fillStyle = "#37474f"; g.textAlign = "center";
  for (const s of tk.values) {
    const x = xOf(v.rec.start_ns + s * 1e9);
    g.fillRect(Math.round(x), 0, 1, 4);
    g.fillText(`${tickLabel(s, tk.step)} s`, x, 15);
  }
  g.textAlign = "left";
}

function shade(g, h) {
  const v = S.view;
  if (v.review) {
    g.fillStyle = "rgba(229,57,53,0.15)";
    for (const w of v.review.agreement.low_windows || []) {
      g.fillRect(xOf(w.t0_ns), 0, xOf(w.t1_ns) - xOf(w.t0_ns), h);
    }
  }
  if (v.sel) {
    g.fillStyle = v.edit ? "rgba(251,140,0,0.20)" : "rgba(30,136,229,0.18)";
    const a = xOf(v.sel[0]), b = xOf(v.sel[1]);
    g.fillRect(a, 0, b - a, h);
    g.fillStyle = v.edit ? "#fb8c00" : "#1e88e5";  // the edges one can drag
    g.fillRect(a - 1, 0, 2, h); g.fillRect(b - 1, 0, 2, h);
  }
}

function placeCursor() {  // the cursor is one line over every canvas, moved without redrawing
  const v = S.view, line = $("#cursor");
  if (!line) return;
  const inside = v.cursor !== null && v.cursor >= v.t0 && v.cursor <= v.t1;
  line.hidden = !inside;
  if (inside) line.style.left = `${xOf(v.cursor) + 1}px`;  // + the canvas's border
}

function answersToDraw() {
  const v = S.view, it = v.item;
  if (!it) return [];
  const all = (v.review ? v.review.answers : v.info.answers)
    .filter((a) => a.taxonomy === it.taxonomy && a.key === it.key);
  const rows = all.map((a) => ({ ...a, who: a.annotator_id }));
  for (const d of v.drafts) rows.push({ ...d, who: `${S.me.user} (draft)` });
  return rows;
}

function drawLanes() {
  const v = S.view, c = v.canvases.labels, g = c.getContext("2d");
  const rows = answersToDraw();
  const who = [...new Set(rows.map((r) => r.who))];
  const h = Math.max(3, who.length + 1) * LANE_H;
  if (c.height !== h) c.height = h;
  g.clearRect(0, 0, c.width, c.height);
  g.save(); g.beginPath(); g.rect(AXIS_W, 0, c.width - AXIS_W, c.height); g.clip();
  shade(g, c.height);
  const k = keyOf(v.item);
  g.font = "11px system-ui, sans-serif";
  rows.forEach((r) => {
    const y = who.indexOf(r.who) * LANE_H + 2;
    const idx = k ? k.values.indexOf(r.value) : -1;
    g.fillStyle = COLORS[(idx + COLORS.length) % COLORS.length];
    if (r.t1_ns != null) g.fillRect(xOf(r.t0_ns), y, Math.max(1, xOf(r.t1_ns) - xOf(r.t0_ns)), LANE_H - 4);
    else if (r.t0_ns != null) g.fillRect(xOf(r.t0_ns) - 1, y, 3, LANE_H - 4);
    if (v.edit && r.id === v.edit.id && r.t0_ns != null) {
      g.strokeStyle = "#e65100"; g.lineWidth = 2;
      g.strokeRect(xOf(r.t0_ns), y, Math.max(2, xOf(r.t1_ns ?? r.t0_ns) - xOf(r.t0_ns)), LANE_H - 4);
      g.lineWidth = 1;
    }
    g.fillStyle = "#000"; if (r.t0_ns != null) g.fillText(String(r.value), xOf(r.t0_ns) + 3, y + 11);
  });
  g.restore();
  g.fillStyle = "#f5f7f8"; g.fillRect(0, 0, AXIS_W, c.height);
  g.fillStyle = "#90a4ae"; g.fillRect(AXIS_W - 1, 0, 1, c.height);
  g.fillStyle = "#444"; g.font = "10px system-ui, sans-serif";
  who.forEach((w, i) => g.fillText(w.length > 9 ? `${w.slice(0, 8)}…` : w, 3, i * LANE_H + 13));
}

const EDGE_PX = 6;  // how near an edge of the selection a press grabs it

function edgeAt(x) {
  const v = S.view;
  if (!v.sel) return -1;
  const d0 = Math.abs(x - xOf(v.sel[0])), d1 = Math.abs(x - xOf(v.sel[1]));
  if (Math.min(d0, d1) > EDGE_PX) return -1;
  return d0 <= d1 ? 0 : 1;
}

function bindMouse(c) {
  let down = null;
  const panel = c.dataset.panel;
  c.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const v = S.view, span = v.t1 - v.t0;
    if (ev.shiftKey) { pan(Math.sign(ev.deltaY) * span * 0.1); return; }
    const at = tOf(Math.max(AXIS_W, ev.offsetX)), f = ev.deltaY > 0 ? 1.25 : 0.8;
    const ns = Math.max(10e6, Math.min(v.rec.end_ns - v.rec.start_ns, span * f));
    setWindow(at - (at - v.t0) * (ns / span), at + (v.t1 - at) * (ns / span));
  }, { passive: false });
  c.addEventListener("dblclick", (ev) => {  // on a panel's y axis: lock or unlock its scale
    const v = S.view;
    if (ev.offsetX >= AXIS_W || !v.panels.includes(panel)) return;
    v.locks[panel] = v.locks[panel] ? null : [...v.scales[panel]];
    drawAll();
  });
  c.addEventListener("mousedown", (ev) => {
    if (ev.offsetX < AXIS_W) return;
    down = { x: ev.offsetX, shift: ev.shiftKey, t: tOf(ev.offsetX), t0: S.view.t0, t1: S.view.t1,
             edge: ev.shiftKey ? -1 : edgeAt(ev.offsetX) };
  });
  c.addEventListener("mousemove", (ev) => {
    const v = S.view;
    if (!down) { c.style.cursor = edgeAt(ev.offsetX) >= 0 ? "ew-resize" : ""; return; }
    if (down.shift) {
      const dt = ((down.x - ev.offsetX) / plotW()) * (down.t1 - down.t0);
      setWindow(down.t0 + dt, down.t1 + dt, true);
    } else if (down.edge >= 0) {
      const t = Math.max(v.rec.start_ns, Math.min(v.rec.end_ns, tOf(Math.max(AXIS_W, ev.offsetX))));
      v.sel[down.edge] = t;
      if (v.sel[0] > v.sel[1]) { v.sel.reverse(); down.edge = 1 - down.edge; }
      drawAll(); editSpan();
    } else if (Math.abs(ev.offsetX - down.x) > 3) {
      const t = tOf(Math.max(AXIS_W, ev.offsetX));
      v.sel = [Math.min(down.t, t), Math.max(down.t, t)]; drawAll(); editSpan();
    }
  });
  c.addEventListener("mouseup", (ev) => {
    if (!down) return;
    const v = S.view;
    if (!down.shift && down.edge < 0 && Math.abs(ev.offsetX - down.x) <= 3) {
      v.cursor = tOf(ev.offsetX);
      if (!v.edit) v.sel = null;  // editing an answer's times keeps them
      drawAll(); seekVideo(v.cursor); editSpan();
    }
    if (down.shift) fetchView().catch(showError);
    down = null;
  });
  c.addEventListener("mouseleave", () => { if (down && down.shift) fetchView().catch(showError); down = null; });
}

function pan(dt) { const v = S.view; setWindow(v.t0 + dt, v.t1 + dt); }

let pending = null;
function setWindow(a, b, drawOnly = false) {
  const v = S.view, span = b - a, lo = v.rec.start_ns, hi = v.rec.end_ns;
  if (a < lo) { a = lo; b = lo + span; }
  if (b > hi) { b = hi; a = Math.max(lo, hi - span); }
  v.t0 = a; v.t1 = b; drawAll();
  if (drawOnly) return;
  clearTimeout(pending); pending = setTimeout(() => fetchView().catch(showError), 30);
}

document.addEventListener("keydown", (ev) => {
  const v = S.view;
  if (!v || !location.hash.match(/^#\/(session|review)\//) || ["INPUT", "SELECT", "VIDEO"].includes(ev.target.tagName)) return;
  if (ev.key === " " && v.video) {
    ev.preventDefault();
    if (v.video.paused) v.video.play().catch(showError); else v.video.pause();
    return;
  }
  if (ev.key === "0") { setWindow(v.rec.start_ns, v.rec.end_ns); return; }
  if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
    pan((ev.key === "ArrowLeft" ? -0.2 : 0.2) * (v.t1 - v.t0)); return;
  }
  const k = keyOf(v.item), n = Number(ev.key);
  if (!k || !(n >= 1 && n <= k.values.length) || v.reviewItem) return;
  const value = k.values[n - 1];
  if (k.target === "interval" && v.sel) {
    v.drafts.push({ ...v.item, value, t0_ns: Math.round(v.sel[0]), t1_ns: Math.round(v.sel[1]) });
    v.sel = null;
  } else if (k.target === "instant" && v.cursor !== null) {
    v.drafts.push({ ...v.item, value, t0_ns: Math.round(v.cursor), t1_ns: null });
  } else return;
  sideDrafts(); drawAll();
});

// -- the video, in sync with the cursor ----------------------------------------------------
// frames.video_s[k]: when frame k shows in the file; frames.host[k]: when the camera took it
// (host ns). Playing puts the cursor at the capture time of the picture on screen; a click
// on the plots shows the last picture taken at or before the clicked time.
function videoBox(v) {
  const video = el("video", { id: "video", controls: "", preload: "auto", playsinline: "",
    width: VIDEO_W, src: `/api/sessions/${encodeURIComponent(v.sid)}/video` });
  video.muted = true;
  v.video = video;
  api(`/api/sessions/${encodeURIComponent(v.sid)}/video/frames`).then((f) => {
    if (S.view !== v) return;
    const host = unpack(f.host_ms, Float64Array).map((ms) => Math.round(v.rec.start_ns + ms * 1e6));
    v.frames = { vs: unpack(f.video_s, Float64Array), host, fps: f.fps };
    videoStatus();
  }).catch(showError);
  let handle = null;
  const onFrame = (_now, meta) => {  // each new picture while playing (not a paused seek's)
    handle = null;
    if (video.paused || S.view !== v) return;
    followVideo(meta ? meta.mediaTime : video.currentTime);
    schedule();
  };
  const schedule = () => {
    if (handle !== null) return;
    handle = video.requestVideoFrameCallback
      ? video.requestVideoFrameCallback(onFrame)
      : requestAnimationFrame(() => onFrame(0, null));
  };
  video.addEventListener("play", schedule);
  video.addEventListener("pause", () => followVideo(video.currentTime));
  video.addEventListener("seeked", () => {
    const ours = v.ourSeek !== null && Math.abs(video.currentTime - v.ourSeek) < 1e-3;
    v.ourSeek = null;
    if (!ours) followVideo(video.currentTime);  // the player's own scrubber
    else videoStatus();
  });
  return el("div", { class: "video-box", id: "video-box" }, video,
    el("div", { id: "video-time", class: "video-time" }, "loading the video…"));
}

function lastAtOrBefore(arr, x) {  // index of the last arr[i] <= x in an increasing array; -1 if none
  let lo = 0, hi = arr.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid] <= x) lo = mid + 1; else hi = mid; }
  return lo - 1;
}

function frameShown(seconds) {  // the frame on screen at video time `seconds`
  const f = S.view.frames;
  if (!f || !f.vs.length) return -1;
  return Math.max(0, lastAtOrBefore(f.vs, seconds + 1e-6));
}

function seekVideo(t) {
  const v = S.view, f = v.frames;
  if (!v.video || !f || !f.vs.length) return;
  const k = lastAtOrBefore(f.host, t);
  const s = k < 0 ? 0 : f.vs[k] + 0.25 / f.fps;  // inside frame k's time on screen
  v.ourSeek = s; v.video.currentTime = s;
  videoStatus(t);
}

function followVideo(seconds) {
  const v = S.view, k = frameShown(seconds);
  if (k < 0) return;
  const t = v.frames.host[k];
  v.cursor = t;
  if (t < v.t0 || t > v.t1) {  // the view pages along with the picture
    const span = v.t1 - v.t0;
    setWindow(t - 0.1 * span, t + 0.9 * span);
  }
  placeCursor(); videoStatus();
}

function videoStatus(t = null) {
  const v = S.view, box = $("#video-time"), f = v.frames;
  if (!box || !f) return;
  if (!f.vs.length) { box.textContent = "this video has no frame index: it cannot follow the plots"; return; }
  const at = t ?? v.cursor;
  if (at !== null && at < f.host[0]) {
    box.textContent = `before the camera's first picture (at ${((f.host[0] - v.rec.start_ns) / 1e9).toFixed(3)} s)`;
    return;
  }
  const k = frameShown(v.video.currentTime);
  box.textContent = `frame ${k + 1} of ${f.vs.length} · taken at ${((f.host[k] - v.rec.start_ns) / 1e9).toFixed(3)} s`;
}

function sessionForm(k) {
  const v = S.view;
  const input = k.values.length
    ? el("select", { id: "session-value" }, ...k.values.map((x) => el("option", { value: x }, x)))
    : el("input", { id: "session-value", type: "number", min: k.minimum ?? "", max: k.maximum ?? "" });
  const add = el("button", { id: "add-session-value" }, "add");
  add.addEventListener("click", () => {
    const raw = input.value;
    v.drafts.push({ ...v.item, value: k.value_type === "category" ? raw : Number(raw), t0_ns: null, t1_ns: null });
    sideDrafts(); drawAll();
  });
  $("#legend").replaceChildren(el("span", {}, `${k.key}: `), input, add);
}

const secs = (t) => ((t - S.view.rec.start_ns) / 1e9).toFixed(3);
const spanText = (t0, t1) => (t0 == null ? "session" : t1 == null ? `at ${secs(t0)} s` : `${secs(t0)}–${secs(t1)} s`);

function sideDrafts() {
  const v = S.view;
  const list = el("ul", { class: "drafts", id: "drafts" }, ...v.drafts.map((d, i) => {
    const del = el("button", { "data-draft": i }, "delete");
    del.addEventListener("click", () => { v.drafts.splice(i, 1); sideDrafts(); drawAll(); });
    return el("li", {}, `${d.taxonomy}/${d.key} = ${d.value} (${spanText(d.t0_ns, d.t1_ns)}) `, del);
  }));
  const submit = el("button", { id: "submit" }, "submit");
  submit.addEventListener("click", submitDrafts);
  $("#side").replaceChildren(el("h3", {}, "My unsubmitted labels"), list, submit,
    el("span", { id: "status" }));
}

async function submitDrafts() {
  const v = S.view, groups = new Map();
  for (const d of v.drafts) {
    const id = `${d.taxonomy}/${d.key}`;
    if (!groups.has(id)) groups.set(id, { session_id: v.sid, taxonomy: d.taxonomy, key: d.key, answers: [] });
    groups.get(id).answers.push({ value: d.value, t0_ns: d.t0_ns, t1_ns: d.t1_ns });
  }
  try {
    for (const body of groups.values()) await api("/api/submit", { body });
    v.drafts = [];
    v.info = await api(`/api/sessions/${encodeURIComponent(v.sid)}`);
    sideDrafts(); drawAll();
    $("#status").textContent = " submitted";
  } catch (e) { showError(e); }
}

// -- review mode --------------------------------------------------------------------------
// "edit times" on an answer puts its interval in the selection (orange): drag its edges, or
// drag a new one (an instant: click the new time); "correct" then sends those times with the
// value and the rationale. The original answer stays; the correction is a new answer.
async function loadReview() {
  const v = S.view, it = v.reviewItem;
  const q = new URLSearchParams({ session_id: v.sid, taxonomy: it.taxonomy, key: it.key });
  v.review = await api(`/api/review/item?${q}`);
  v.edit = null;
  const k = keyOf(it), r = v.review;
  const rows = r.answers.filter((a) => r.current.includes(a.id)).map((a) => {
    const acc = el("button", { "data-accept": a.id }, "accept");
    acc.addEventListener("click", () => decide("accept", { answer_id: a.id }));
    const sel = el("select", { "data-correct-value": a.id }, ...k.values.map((x) => el("option", { value: x }, x)));
    if (k.values.includes(a.value)) sel.value = a.value;
    const why = el("input", { "data-rationale": a.id, placeholder: "rationale" });
    const edit = el("button", { "data-edit": a.id, title: "change this answer's times" }, "edit times");
    edit.addEventListener("click", () => editTimes(a));
    if (a.t0_ns == null) edit.disabled = true;
    const cor = el("button", { "data-correct": a.id }, "correct");
    cor.addEventListener("click", () => {
      const body = { answer_id: a.id, value: sel.value, rationale: why.value };
      const times = v.edit && v.edit.id === a.id ? newTimes() : null;
      if (times) Object.assign(body, times);
      decide("correct", body);
    });
    const back = el("button", { "data-send-back": a.id }, "send back");
    back.addEventListener("click", () => decide("send-back", { session_id: v.sid, taxonomy: it.taxonomy,
      key: it.key, annotator: a.annotator_id, rationale: why.value }));
    return el("tr", { "data-answer": a.id }, el("td", {}, String(a.id)), el("td", {}, a.annotator_id),
      el("td", {}, String(a.value)), el("td", { class: "span" }, a.t0_ns == null ? "" : spanText(a.t0_ns, a.t1_ns)),
      el("td", {}, acc, " ", edit, " ", sel, why, cor, " ", back));
  });
  const ag = r.agreement;
  const next = el("button", { id: "next-low" }, "next low-agreement window");
  next.addEventListener("click", () => {
    const w = ag.low_windows; if (!w.length) return;
    v.lowIdx = (v.lowIdx + 1) % w.length; setWindow(w[v.lowIdx].t0_ns, w[v.lowIdx].t1_ns);
  });
  const dist = Object.entries(r.distribution).map(([val, n]) => `${val}: ${n}`).join(", ");
  $("#side").replaceChildren(
    el("h3", {}, "Answers"),
    el("table", { id: "answers" }, el("tr", {}, ...["id", "by", "value", "span", "decision"].map((h) => el("th", {}, h))), ...rows),
    el("p", { id: "edit-span", class: "edit-span" }),
    el("p", { id: "agreement" }, `distribution: ${dist} · alpha: ${ag.alpha == null ? "n/a" : Number(ag.alpha).toFixed(3)} · `,
       el("span", { class: "low" }, `${ag.low_windows.length} low-agreement windows `), next),
    el("p", { id: "decisions" }, `${r.reviews.length} review decisions so far`),
    el("span", { id: "status" }));
}

function editTimes(a) {
  const v = S.view;
  v.edit = a;
  if (a.t1_ns != null) v.sel = [a.t0_ns, a.t1_ns]; else { v.sel = null; v.cursor = a.t0_ns; }
  const lo = a.t0_ns, hi = a.t1_ns ?? a.t0_ns, pad = Math.max((hi - lo) * 0.25, 50e6);
  if (lo < v.t0 || hi > v.t1) setWindow(Math.min(v.t0, lo - pad), Math.max(v.t1, hi + pad));
  for (const tr of document.querySelectorAll("#answers tr[data-answer]")) {
    tr.classList.toggle("editing", tr.dataset.answer === String(a.id));
  }
  drawAll(); editSpan();
}

function newTimes() {  // the edited answer's new times, from the selection (or the cursor)
  const v = S.view, a = v.edit;
  if (!a) return null;
  if (a.t1_ns != null) return v.sel ? { t0_ns: Math.round(v.sel[0]), t1_ns: Math.round(v.sel[1]) } : null;
  return v.cursor !== null ? { t0_ns: Math.round(v.cursor) } : null;
}

function editSpan() {
  const v = S.view, box = $("#edit-span");
  if (!box) return;
  if (!v.edit) { box.textContent = ""; return; }
  const t = newTimes(), a = v.edit;
  box.textContent = `answer ${a.id}: ${spanText(a.t0_ns, a.t1_ns)} → ` +
    (t ? spanText(t.t0_ns, t.t1_ns ?? null) : "(select the new times)") + "; press correct to keep them";
}

async function decide(what, body) {
  try {
    await api(`/api/review/${what}`, { body });
    S.view.sel = null;
    await loadReview(); drawAll();
    $("#status").textContent = ` ${what} done`;
  } catch (e) { showError(e); }
}

start();
