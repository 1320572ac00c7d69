// mystp2p dashboard: reads everything from the node's local API (/v1/…,
// docs/API.md) with the bearer token the URL fragment brought. Plain
// JavaScript, no build step, no other origin; every value from the API
// goes into the page as text, never as HTML.
"use strict";

const TOKEN_KEY = "mystp2p-token";
const $ = (id) => document.getElementById(id);

// The token: from #token=… (then out of the address bar), else from this
// tab's sessionStorage.
function takeToken() {
  const m = /(?:^#|&)token=([0-9a-fA-F]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, m[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const token = takeToken();
let stopped = false;
const timers = [];

class AuthError extends Error {}

async function api(method, path, body) {
  if (stopped) throw new AuthError("stopped");
  const opts = { method, headers: { Authorization: "Bearer " + token }, cache: "no-store" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (resp.status === 401) {
    authFailed((data && data.error) || "the node refused the token");
    throw new AuthError("unauthorized");
  }
  if (!resp.ok) {
    const msg = (data && data.error) || resp.status + " " + resp.statusText;
    const err = new Error(msg);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function authFailed(msg) {
  stopped = true;
  timers.forEach(clearInterval);
  sessionStorage.removeItem(TOKEN_KEY);
  $("main").hidden = true;
  const el = $("auth-error");
  el.textContent = "Not authorised: " + msg + ". Run `mystp2p dashboard --data-dir DIR` on the node's machine and open the link it prints.";
  el.hidden = false;
}

function showError(msg) {
  const el = $("error");
  el.textContent = msg;
  el.hidden = !msg;
}

// every runs f now and every ms, reporting failures in the banner.
function every(ms, f) {
  const run = async () => {
    try { await f(); } catch (e) { if (!(e instanceof AuthError)) showError(e.message); }
  };
  run();
  timers.push(setInterval(run, ms));
}

// Formatting.
function bytes(n) {
  n = Number(n || 0);
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(1) + " " + u[i];
}

function tokens(base) {
  let v;
  try { v = BigInt(base || "0"); } catch (e) { return String(base); }
  const neg = v < 0n;
  if (neg) v = -v;
  const one = 10n ** 18n;
  const whole = v / one;
  let frac = (v % one).toString().padStart(18, "0").replace(/0+$/, "");
  if (frac.length > 8) frac = frac.slice(0, 8);
  return (neg ? "-" : "") + whole.toString() + (frac ? "." + frac : "");
}

function duration(s) {
  s = Math.max(0, Math.floor(s));
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + sec + "s";
  return sec + "s";
}

function short(id) {
  id = String(id || "");
  return id.length > 16 ? id.slice(0, 8) + "…" + id.slice(-6) : id;
}

function cell(tr, text, cls, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (title) td.title = title;
  tr.appendChild(td);
  return td;
}

function setText(id, text) { $(id).textContent = text; }

// Status.
let roles = [];
async function refreshStatus() {
  const st = await api("GET", "/v1/status");
  roles = st.roles || [];
  setText("role", roles.join(", "));
  setText("peer-id", st.peer_id);
  setText("reachability", st.reachability);
  const nat = Object.entries(st.nat || {}).map(([p, k]) => p + ": " + k).join(", ");
  setText("nat", nat || "not known yet");
  setText("peers", String(st.peers));
  setText("relays", (st.relays || []).map(short).join(", ") || "none");
  setText("transports", (st.transports || []).join(", ") || "none");
  const p = st.proposal;
  setText("offer", p ? [p.country, p.ip_type, tokens(p.price_hour) + "/h", tokens(p.price_gib) + "/GiB",
    (p.hermes || []).length ? "paid via " + p.hermes.map(short).join(", ") : "free"].filter(Boolean).join(" · ") : "");
  $("offer").hidden = $("offer-label").hidden = !p;
  setText("version", st.version + (st.commit ? " (" + st.commit.slice(0, 12) + ")" : "") + (st.go ? ", " + st.go : ""));
  setText("uptime", duration(st.uptime_seconds));
  const ul = $("addrs");
  ul.replaceChildren(...(st.addrs || []).map((a) => { const li = document.createElement("li"); li.textContent = a; return li; }));
  setText("updated", "updated " + new Date().toLocaleTimeString());
  return st;
}

// Provider: sessions.
async function refreshSessions() {
  const rows = await api("GET", "/v1/sessions");
  const tb = $("sessions").tBodies[0];
  tb.replaceChildren(...rows.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.session = s.id;
    cell(tr, short(s.consumer), "id mono", s.consumer);
    cell(tr, s.path);
    cell(tr, s.transport + (s.obfuscated ? " (masked)" : ""));
    cell(tr, bytes(s.bytes_up), "num bytes-up").dataset.bytes = s.bytes_up;
    cell(tr, bytes(s.bytes_down), "num bytes-down").dataset.bytes = s.bytes_down;
    cell(tr, duration(s.duration_seconds), "num");
    cell(tr, tokens(s.earned), "num");
    return tr;
  }));
  $("no-sessions").hidden = rows.length > 0;
  setText("session-count", "(" + rows.length + ")");
}

// Provider: earnings and settle.
async function refreshEarnings() {
  const rows = await api("GET", "/v1/earnings");
  const tb = $("earnings").tBodies[0];
  tb.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.hermes = r.hermes;
    cell(tr, short(r.hermes), "id mono", r.hermes);
    cell(tr, tokens(r.earned), "num");
    let settled = 0n;
    try { settled = BigInt(r.settled) - BigInt(r.fee_settled); } catch (e) { settled = 0n; }
    cell(tr, tokens(settled.toString()), "num");
    cell(tr, tokens(r.unsettled), "num unsettled");
    cell(tr, tokens(r.fee), "num");
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "settle";
    b.dataset.hermes = r.hermes;
    b.textContent = "Settle";
    b.disabled = r.unsettled === "0";
    b.addEventListener("click", () => settle(r.hermes, b));
    td.appendChild(b);
    tr.appendChild(td);
    return tr;
  }));
  $("no-earnings").hidden = rows.length > 0;
}

async function settle(hermes, button) {
  const out = $("settle-result");
  button.disabled = true;
  out.className = "small";
  out.textContent = "settling with " + short(hermes) + " on chain…";
  try {
    const rows = await api("POST", "/v1/settle", { hermes });
    out.textContent = rows.map((r) => r.error ? "hermes " + short(r.hermes) + ": " + r.error
      : "settled " + tokens(r.paid) + " tokens with hermes " + short(r.hermes)).join("; ");
    out.className = "small " + (rows.some((r) => r.error) ? "bad" : "ok");
    out.dataset.done = "1";
  } catch (e) {
    if (e instanceof AuthError) return;
    out.textContent = "settle failed: " + e.message;
    out.className = "small bad";
  }
  refreshEarnings().catch(() => {});
}

// Provider: charts.
function chart(canvas, series, opts) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 64, R = 8, T = 10, B = 22;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280";
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0) {
    ctx.fillText("no samples yet", W / 2 - 40, H / 2);
    return;
  }
  const t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]), t0 + 1);
  const vmax = Math.max(...pts.map((p) => p[1]), 1e-9);
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => H - B - v / vmax * (H - T - B);
  ctx.strokeStyle = "#d8dde6";
  ctx.beginPath();
  for (let i = 0; i <= 4; i++) {
    const v = vmax * i / 4;
    ctx.moveTo(L, y(v)); ctx.lineTo(W - R, y(v));
    ctx.fillText(opts.label(v), 2, y(v) + 4);
  }
  ctx.stroke();
  ctx.fillText(new Date(t0).toLocaleString(), L, H - 6);
  const end = new Date(t1).toLocaleTimeString();
  ctx.fillText(end, W - R - ctx.measureText(end).width, H - 6);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    s.points.forEach((p, i) => (i ? ctx.lineTo(x(p[0]), y(p[1])) : ctx.moveTo(x(p[0]), y(p[1]))));
    ctx.stroke();
  }
  canvas.dataset.points = String(pts.length);
}

async function refreshCharts() {
  const since = Math.floor(Date.now() / 1000) - Number($("range").value);
  const [tr, er] = await Promise.all([
    api("GET", "/v1/history?series=traffic&since=" + since),
    api("GET", "/v1/history?series=earnings&since=" + since),
  ]);
  const iv = tr.interval_seconds || 1;
  const up = [], down = [];
  let prev = null;
  for (const s of tr.samples) {
    const t = Date.parse(s.t);
    const dt = prev === null ? iv : Math.max((t - prev) / 1000, 0.001);
    up.push([t, (s.up || 0) / dt]);
    down.push([t, (s.down || 0) / dt]);
    prev = t;
  }
  chart($("traffic-chart"), [{ points: up, color: "#2563eb" }, { points: down, color: "#16a34a" }], { label: (v) => bytes(v) + "/s" });
  const earned = er.samples.map((s) => [Date.parse(s.t), Number(tokens(s.earned))]);
  chart($("earnings-chart"), [{ points: earned, color: "#a16207" }], { label: (v) => v.toPrecision(3) });
}

// Provider: settings.
function showUsage(st) {
  setText("month-usage", bytes(st.month_usage.used) + " since " + new Date(st.month_usage.month).toLocaleDateString());
}

// refreshUsage updates the month's usage without touching the form.
async function refreshUsage() { showUsage(await api("GET", "/v1/settings")); }

function fillSettings(st) {
  $("set-price-hour").value = st.price_hour;
  $("set-price-gib").value = st.price_gib;
  $("set-max-sessions").value = st.max_sessions;
  $("set-session-rate").value = st.limits.session_rate;
  $("set-total-rate").value = st.limits.total_rate;
  $("set-monthly-cap").value = st.limits.monthly_cap;
  const rules = $("set-exit-policy");
  rules.value = (st.exit_policy || []).join("\n");
  rules.placeholder = st.exit_policy === null ? "as the provider was started (--exit-policy); saving replaces them" : "the default policy";
  rules.dataset.known = st.exit_policy === null ? "" : "1";
  showUsage(st);
}

async function loadSettings() { fillSettings(await api("GET", "/v1/settings")); }

function intField(id, name) {
  const s = $(id).value.trim();
  if (!/^\d+$/.test(s)) throw new Error(name + ": want a whole number");
  return Number(s);
}

function digitsField(id, name) {
  const s = $(id).value.trim();
  if (!/^\d+$/.test(s)) throw new Error(name + ": want a whole number of base units");
  return s;
}

async function saveSettings(ev) {
  ev.preventDefault();
  const out = $("settings-result");
  try {
    const body = {
      // Prices are big whole numbers of base units: sent as strings.
      price_hour: digitsField("set-price-hour", "price per hour"),
      price_gib: digitsField("set-price-gib", "price per GiB"),
      max_sessions: intField("set-max-sessions", "max sessions"),
      limits: {
        session_rate: intField("set-session-rate", "rate per session"),
        total_rate: intField("set-total-rate", "total rate"),
        monthly_cap: intField("set-monthly-cap", "monthly cap"),
      },
    };
    const rules = $("set-exit-policy");
    const list = rules.value.split("\n").map((s) => s.trim()).filter(Boolean);
    // Rules the API does not know stay as started unless some are given.
    if (rules.dataset.known || list.length) body.exit_policy = list;
    fillSettings(await api("PUT", "/v1/settings", body));
    out.textContent = "saved";
    out.className = "small ok";
  } catch (e) {
    if (e instanceof AuthError) return;
    out.textContent = e.message;
    out.className = "small bad";
  }
}

// Consumer.
async function refreshConsumer() {
  const c = await api("GET", "/v1/consumer/status");
  setText("c-state", c.state);
  setText("c-provider", c.provider || "—");
  setText("c-path", c.path || "—");
  setText("c-transport", c.transport || "—");
  setText("c-obfs", c.obfuscation || "—");
  const b = $("c-bytes");
  b.textContent = c.state === "connected" ? bytes(c.bytes_up) + " / " + bytes(c.bytes_down) : "—";
  b.dataset.bytes = String((c.bytes_up || 0) + (c.bytes_down || 0));
  setText("c-spent", tokens(c.spent) + " tokens (" + tokens(c.spent_total) + " this run)");
  setText("c-since", c.connected_since ? new Date(c.connected_since).toLocaleString() : "—");
  setText("c-error", c.last_error || "—");
  $("c-disconnect").disabled = c.state === "disconnected";
}

async function control(path, body) {
  const out = $("c-result");
  try {
    const a = await api("POST", path, body);
    out.textContent = a.requested + " requested" + (a.provider ? " (" + short(a.provider) + ")" : "");
    out.className = "small ok";
  } catch (e) {
    if (e instanceof AuthError) return;
    out.textContent = e.message;
    out.className = "small bad";
  }
  refreshConsumer().catch(() => {});
}

async function refreshProposals(discover) {
  const rows = await api("GET", "/v1/proposals" + (discover ? "?discover=1" : ""));
  const tb = $("proposals").tBodies[0];
  tb.replaceChildren(...rows.map((p) => {
    const tr = document.createElement("tr");
    cell(tr, short(p.provider), "id mono", p.provider);
    cell(tr, p.country || "—");
    cell(tr, p.ip_type || "—");
    cell(tr, (p.hermes || []).length ? tokens(p.price_hour) : "free", "num");
    cell(tr, (p.hermes || []).length ? tokens(p.price_gib) : "free", "num");
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Use";
    b.disabled = !p.payable;
    b.title = p.payable ? "switch to this provider" : "not payable through your hermes";
    b.addEventListener("click", () => control("/v1/consumer/connect", { provider: p.provider }));
    td.appendChild(b);
    tr.appendChild(td);
    return tr;
  }));
}

async function start() {
  if (!token) {
    authFailed("no token in this link");
    return;
  }
  let st;
  try {
    st = await refreshStatus();
  } catch (e) {
    if (!(e instanceof AuthError)) showError("cannot reach the node: " + e.message);
    return;
  }
  $("main").hidden = false;
  every(5000, refreshStatus);
  if (st.roles.includes("provider")) {
    document.querySelectorAll(".provider").forEach((el) => { el.hidden = false; });
    every(1000, refreshSessions);
    every(5000, refreshEarnings);
    every(10000, refreshCharts);
    $("range").addEventListener("change", () => refreshCharts().catch((e) => showError(e.message)));
    loadSettings().catch((e) => { if (!(e instanceof AuthError)) showError(e.message); });
    timers.push(setInterval(() => refreshUsage().catch(() => {}), 5000));
    $("settings-form").addEventListener("submit", saveSettings);
  }
  if (st.roles.includes("consumer")) {
    document.querySelectorAll(".consumer").forEach((el) => { el.hidden = false; });
    every(1000, refreshConsumer);
    refreshProposals(false).catch((e) => showError(e.message));
    $("p-discover").addEventListener("click", () => refreshProposals(true).catch((e) => showError(e.message)));
    $("c-disconnect").addEventListener("click", () => control("/v1/consumer/disconnect", {}));
    $("c-connect").addEventListener("click", () => control("/v1/consumer/connect", {}));
  }
}

start();
