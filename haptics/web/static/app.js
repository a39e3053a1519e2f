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
const PANELS = ["position", "force", "depth"];
const PANEL_H = 120, LANE_H = 18;

async function sessionPage(sid, reviewItem) {
  const info = await api(`/api/sessions/${encodeURIComponent(sid)}`);
  const rec = info.session;
  const v = S.view = {
    sid, rec, info, reviewItem, t0: rec.start_ns, t1: rec.end_ns, data: null,
    sel: null, cursor: null, drafts: [], review: null, lowIdx: -1,
    items: reviewItem ? [reviewItem] : info.assigned,
  };
  v.item = v.items[0] || null;
  const width = Math.max(600, Math.min(1800, window.innerWidth - 40));
  v.width = width;
  const plots = el("div", { class: "plots", id: "plots" });
  v.canvases = {};
  for (const p of PANELS) {
    const c = el("canvas", { width, height: PANEL_H, "data-panel": p });
    v.canvases[p] = c; plots.append(c);
  }
  const lanes = el("canvas", { width, height: LANE_H * 3, id: "lanes", "data-panel": "labels" });
  v.canvases.labels = lanes; plots.append(lanes);
  const itemSel = el("select", { id: "item" }, ...v.items.map((it, i) =>
    el("option", { value: i }, `${it.taxonomy}/${it.key}`)));
  itemSel.addEventListener("change", () => { v.item = v.items[+itemSel.value]; drawAll(); legend(); });
  $("#main").replaceChildren(
    el("h2", {}, `${reviewItem ? "Review" : "Session"} ${sid}`),
    el("div", { class: "toolbar" }, el("span", {}, "item: "), itemSel,
       el("span", { class: "legend", id: "legend" }),
       el("span", {}, "wheel: zoom · shift+drag: pan · drag: select · click: instant · ",
          el("span", { class: "kbd" }, "0"), " whole session")),
    plots,
    el("div", { id: "side" }));
  for (const c of Object.values(v.canvases)) bindMouse(c);
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
  const q = `t0_ns=${Math.round(v.t0)}&t1_ns=${Math.round(v.t1)}&width=${v.width}`;
  const data = await api(`/api/sessions/${encodeURIComponent(v.sid)}/view?${q}`);
  for (const tr of data.traces) { tr.t_ms = unpack(tr.t_ms, Float64Array); tr.y = unpack(tr.y, Float32Array); }
  if (data.t0_ns === Math.round(v.t0) && data.t1_ns === Math.round(v.t1)) { v.data = data; drawAll(); }
}

function unpack(b64, Type) {  // the server sends samples as base64 of little-endian arrays
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Type(bytes.buffer);
}

const xOf = (t) => ((t - S.view.t0) / (S.view.t1 - S.view.t0)) * S.view.width;
const tOf = (x) => S.view.t0 + (x / S.view.width) * (S.view.t1 - S.view.t0);

function drawAll() {
  const v = S.view;
  if (!v.data) return;
  for (const p of PANELS) drawPanel(p);
  drawLanes();
}

function drawPanel(panel) {
  const v = S.view, c = v.canvases[panel], g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const lines = v.data.traces.filter((t) => t.panel === panel);
  let lo = Infinity, hi = -Infinity;
  for (const l of lines) for (const y of l.y) { if (y < lo) lo = y; if (y > hi) hi = y; }
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const yOf = (y) => c.height - 4 - ((y - lo) / (hi - lo)) * (c.height - 8);
  shade(g, c.height);
  lines.forEach((l, i) => {
    g.strokeStyle = COLORS[i % COLORS.length]; g.beginPath();
    const toNs = (ms) => v.data.t0_ns + ms * 1e6;
    l.t_ms.forEach((t, j) => { const x = xOf(toNs(t)), y = yOf(l.y[j]);
      if (j) g.lineTo(x, y); else g.moveTo(x, y); });
    g.stroke();
    g.fillStyle = g.strokeStyle; g.fillText(`${l.name} (${l.unit})`, 6 + 110 * i, 12);
  });
  g.fillStyle = "#555"; g.fillText(panel, c.width - 60, 12);
  if (panel === "depth") for (const e of v.data.events) {
    const x = xOf(e.t_ns); g.fillStyle = "#000"; g.fillRect(x, 0, 1, c.height);
  }
}

function shade(g, h) {
  const v = S.view;
  if (v.review) {
    g.fillStyle = "rgba(229,57,53,0.15)";
    for (const w of v.review.agreement.low_windows || []) {
      g.fillRect(xOf(w.t0_ns), 0, xOf(w.t1_ns) - xOf(w.t0_ns), h);
    }
  }
  if (v.sel) { g.fillStyle = "rgba(30,136,229,0.18)";
    g.fillRect(xOf(v.sel[0]), 0, xOf(v.sel[1]) - xOf(v.sel[0]), h); }
  if (v.cursor !== null) { g.fillStyle = "#e53935"; g.fillRect(xOf(v.cursor), 0, 1, h); }
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
  shade(g, c.height);
  const k = keyOf(v.item);
  rows.forEach((r) => {
    const y = who.indexOf(r.who) * LANE_H + 2;
    const idx = k ? k.values.indexOf(r.value) : -1;
    g.fillStyle = COLORS[(idx + COLORS.length) % COLORS.length];
    if (r.t1_ns != null) g.fillRect(xOf(r.t0_ns), y, Math.max(1, xOf(r.t1_ns) - xOf(r.t0_ns)), LANE_H - 4);
    else if (r.t0_ns != null) g.fillRect(xOf(r.t0_ns) - 1, y, 3, LANE_H - 4);
    g.fillStyle = "#000"; if (r.t0_ns != null) g.fillText(String(r.value), xOf(r.t0_ns) + 3, y + 11);
  });
  g.fillStyle = "#444";
  who.forEach((w, i) => g.fillText(w, c.width - 140, i * LANE_H + 13));
}

function bindMouse(c) {
  let down = null;
  c.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const v = S.view, span = v.t1 - v.t0;
    if (ev.shiftKey) { pan(Math.sign(ev.deltaY) * span * 0.1); return; }
    const at = tOf(ev.offsetX), f = ev.deltaY > 0 ? 1.25 : 0.8;
    const ns = Math.max(10e6, Math.min(v.rec.end_ns - v.rec.start_ns, span * f));
    setWindow(at - (at - v.t0) * (ns / span), at + (v.t1 - at) * (ns / span));
  }, { passive: false });
  c.addEventListener("mousedown", (ev) => { down = { x: ev.offsetX, shift: ev.shiftKey, t: tOf(ev.offsetX),
    t0: S.view.t0, t1: S.view.t1 }; });
  c.addEventListener("mousemove", (ev) => {
    if (!down) return;
    const v = S.view;
    if (down.shift) {
      const dt = ((down.x - ev.offsetX) / v.width) * (down.t1 - down.t0);
      setWindow(down.t0 + dt, down.t1 + dt, true);
    } else if (Math.abs(ev.offsetX - down.x) > 3) {
      const t = tOf(ev.offsetX); v.sel = [Math.min(down.t, t), Math.max(down.t, t)]; drawAll();
    }
  });
  c.addEventListener("mouseup", (ev) => {
    if (!down) return;
    const v = S.view;
    if (!down.shift && Math.abs(ev.offsetX - down.x) <= 3) { v.cursor = tOf(ev.offsetX); v.sel = null; drawAll(); }
    if (down.shift) fetchView().catch(showError);
    down = null;
  });
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
  if (!v || !location.hash.match(/^#\/(session|review)\//) || ev.target.tagName === "INPUT") return;
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

function sideDrafts() {
  const v = S.view;
  const list = el("ul", { class: "drafts", id: "drafts" }, ...v.drafts.map((d, i) => {
    const del = el("button", { "data-draft": i }, "delete");
    del.addEventListener("click", () => { v.drafts.splice(i, 1); sideDrafts(); drawAll(); });
    const span = d.t0_ns == null ? "session" : d.t1_ns == null
      ? `at ${((d.t0_ns - v.rec.start_ns) / 1e9).toFixed(3)} s`
      : `${((d.t0_ns - v.rec.start_ns) / 1e9).toFixed(3)}–${((d.t1_ns - v.rec.start_ns) / 1e9).toFixed(3)} s`;
    return el("li", {}, `${d.taxonomy}/${d.key} = ${d.value} (${span}) `, del);
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
async function loadReview() {
  const v = S.view, it = v.reviewItem;
  const q = new URLSearchParams({ session_id: v.sid, taxonomy: it.taxonomy, key: it.key });
  v.review = await api(`/api/review/item?${q}`);
  const k = keyOf(it), r = v.review;
  const rows = r.answers.filter((a) => r.current.includes(a.id)).map((a) => {
    const acc = el("button", { "data-accept": a.id }, "accept");
    acc.addEventListener("click", () => decide("accept", { answer_id: a.id }));
    const sel = el("select", { "data-correct-value": a.id }, ...k.values.map((x) => el("option", { value: x }, x)));
    const why = el("input", { "data-rationale": a.id, placeholder: "rationale" });
    const cor = el("button", { "data-correct": a.id }, "correct");
    cor.addEventListener("click", () => decide("correct", { answer_id: a.id, value: sel.value, rationale: why.value }));
    const back = el("button", { "data-send-back": a.id }, "send back");
    back.addEventListener("click", () => decide("send-back", { session_id: v.sid, taxonomy: it.taxonomy,
      key: it.key, annotator: a.annotator_id, rationale: why.value }));
    const span = a.t1_ns != null ? `${((a.t0_ns - v.rec.start_ns) / 1e9).toFixed(3)}–${((a.t1_ns - v.rec.start_ns) / 1e9).toFixed(3)} s` : "";
    return el("tr", {}, el("td", {}, String(a.id)), el("td", {}, a.annotator_id), el("td", {}, String(a.value)),
      el("td", {}, span), el("td", {}, acc, " ", sel, why, cor, " ", back));
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
    el("p", { id: "agreement" }, `distribution: ${dist} · alpha: ${ag.alpha ?? "n/a"} · `,
       el("span", { class: "low" }, `${ag.low_windows.length} low-agreement windows `), next),
    el("p", { id: "decisions" }, `${r.reviews.length} review decisions so far`),
    el("span", { id: "status" }));
}

async function decide(what, body) {
  try {
    await api(`/api/review/${what}`, { body });
    await loadReview(); drawAll();
    $("#status").textContent = ` ${what} done`;
  } catch (e) { showError(e); }
}

start();
