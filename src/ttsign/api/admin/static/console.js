// ttsign operator console: logs in, then draws keys, usage and the live picture from /admin/api.
// Plain DOM (textContent only: no HTML is built from data) and <canvas> charts; no framework, no CDN.
"use strict";

const state = { csrf: "", selected: null, keys: [], timers: [], filter: "", page: 0 };
const $ = (id) => document.getElementById(id);
const LIVE_EVERY_MS = 2000;
const KEYS_PER_PAGE = 100; // a 1,000-row table takes the browser longer to lay out than everything else
const USAGE_EVERY_MS = 10000;
const COLORS = { requests: "#2f6fdb", connects: "#1f9254", signatures: "#8a5cd1", refused: "#c63b3b" };

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.reason = body && body.reason;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  const response = await fetch(`/admin/api${path}`, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401 && path !== "/login") showLogin();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- login ------------------------------------------------------------------------------------------------

function showLogin() {
  stopTimers();
  state.csrf = "";
  $("console").hidden = true;
  $("nav").hidden = true;
  $("login").hidden = false;
  $("secret").focus();
}

function showConsole(session, keysPending) {
  state.csrf = session.csrf_token;
  $("login").hidden = true;
  $("console").hidden = false;
  $("nav").hidden = false;
  $("session-expiry").textContent = `session until ${new Date(session.expires_at * 1000).toLocaleTimeString()}`;
  stopTimers();
  loadKeys(keysPending);
  loadLive();
  state.timers.push(setInterval(() => { if (!document.hidden) loadLive(); }, LIVE_EVERY_MS));
  state.timers.push(setInterval(() => { if (!document.hidden && state.selected) loadUsage(); }, USAGE_EVERY_MS));
}

function stopTimers() {
  state.timers.forEach(clearInterval);
  state.timers = [];
}

async function login(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const session = await api("POST", "/login", { secret: $("secret").value });
    $("secret").value = "";
    showConsole(session);
  } catch (error) {
    $("login-error").textContent = error.message;
  }
}

async function logout() {
  try { await api("POST", "/logout"); } catch (error) { /* the session is over either way */ }
  showLogin();
}

// --- keys -------------------------------------------------------------------------------------------------

function cell(row, text, className) {
  const td = document.createElement("td");
  row.append(td);
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function limitText(limits) {
  const show = (n) => (n === null || n === undefined ? "–" : String(n));
  return [limits.per_minute, limits.per_hour, limits.per_day, limits.rooms_per_hour].map(show).join(" / ");
}

// How close a key is to its daily limit (windows are UTC days, like "today").
function dayShare(key) {
  const limit = key.effective.per_day;
  if (!limit) return "–";
  return `${Math.min(100, Math.round((100 * (key.today.requests || 0)) / limit))}%`;
}

function refusedCount(counts) {
  return Object.entries(counts).filter(([name]) => name.startsWith("refused:")).reduce((sum, [, n]) => sum + n, 0);
}

// One formatter for every row: formatting through Date.toLocaleString builds a new one per call (slow for 1,000).
const WHEN = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });

function shownKeys() {
  const filter = state.filter.trim().toLowerCase();
  if (!filter) return state.keys;
  return state.keys.filter((k) => k.key_id.includes(filter) || k.name.toLowerCase().includes(filter));
}

function renderKeys() {
  const shown = shownKeys();
  const pages = Math.max(1, Math.ceil(shown.length / KEYS_PER_PAGE));
  state.page = Math.min(state.page, pages - 1);
  const first = state.page * KEYS_PER_PAGE;
  const page = shown.slice(first, first + KEYS_PER_PAGE);
  const rows = document.createDocumentFragment();
  for (const key of page) {
    const row = document.createElement("tr");
    row.dataset.keyId = key.key_id;
    if (key.revoked_at) row.className = "revoked";
    if (key.key_id === state.selected) row.classList.add("selected");
    cell(row, key.key_id);
    cell(row, key.name);
    cell(row, WHEN.format(key.created_at * 1000));
    cell(row, key.revoked_at ? "revoked" : "active");
    cell(row, limitText(key.effective));
    cell(row, key.chat_enabled ? "on" : "off");
    cell(row, String(key.today.requests || 0), "num");
    cell(row, dayShare(key), "num");
    cell(row, String(refusedCount(key.today)), "num");
    rows.append(row);
  }
  $("key-table").tBodies[0].replaceChildren(rows);
  $("key-count").textContent = shown.length
    ? `${first + 1}–${first + page.length} of ${shown.length}` + (shown.length < state.keys.length ? ` (of ${state.keys.length})` : "")
    : `none of ${state.keys.length}`;
  $("previous-keys").disabled = state.page === 0;
  $("next-keys").disabled = state.page >= pages - 1;
}

function turnPage(step) {
  state.page += step;
  renderKeys();
}

function filterKeys() {
  state.filter = $("key-filter").value;
  state.page = 0;
  renderKeys();
}

function clickedKey(event) {
  const row = event.target.closest("tr[data-key-id]");
  if (row) selectKey(row.dataset.keyId);
}

async function loadKeys(pending) {
  try {
    state.keys = (await (pending || api("GET", "/keys"))).keys;
    renderKeys();
    if (state.selected) showKeyDetail();
  } catch (error) {
    $("keys-error").textContent = error.message;
  }
}

function numberOrNull(id) {
  const value = $(id).value.trim();
  return value === "" ? null : Number(value);
}

function limitsFrom(prefix) {
  return {
    per_minute: numberOrNull(`${prefix}-per-minute`),
    per_hour: numberOrNull(`${prefix}-per-hour`),
    per_day: numberOrNull(`${prefix}-per-day`),
    rooms_per_hour: numberOrNull(`${prefix}-rooms-per-hour`),
  };
}

async function createKey(event) {
  event.preventDefault();
  $("keys-error").textContent = "";
  try {
    const created = await api("POST", "/keys", {
      name: $("new-name").value, limits: limitsFrom("new"), chat_enabled: $("new-chat").checked,
    });
    $("new-key-id").textContent = created.key.key_id;
    $("new-key-plaintext").textContent = created.api_key;
    $("new-key-shown").hidden = false;
    $("new-key").reset();
    await loadKeys();
    selectKey(created.key.key_id);
  } catch (error) {
    $("keys-error").textContent = error.message;
  }
}

function dismissNewKey() {
  $("new-key-id").textContent = "";
  $("new-key-plaintext").textContent = "";
  $("new-key-shown").hidden = true;
}

// --- one key: limits, revoke, usage -----------------------------------------------------------------------

function selectKey(keyId) {
  if (keyId !== $("new-key-id").textContent) dismissNewKey(); // a plaintext stays on screen no longer than needed
  state.selected = keyId;
  for (const row of $("key-table").querySelectorAll("tr.selected")) row.classList.remove("selected");
  const row = $("key-table").querySelector(`tr[data-key-id="${CSS.escape(keyId)}"]`);
  if (row) row.classList.add("selected");
  showKeyDetail();
  loadUsage();
}

function showKeyDetail() {
  const key = state.keys.find((k) => k.key_id === state.selected);
  if (!key) return;
  $("key-detail").hidden = false;
  $("detail-id").textContent = key.key_id;
  $("detail-name").textContent = key.name;
  $("detail-status").textContent = key.revoked_at ? "revoked" : "active";
  const own = key.limits;
  const fill = (id, n) => { $(id).value = n === null || n === undefined ? "" : String(n); };
  fill("edit-per-minute", own.per_minute);
  fill("edit-per-hour", own.per_hour);
  fill("edit-per-day", own.per_day);
  fill("edit-rooms-per-hour", own.rooms_per_hour);
  $("edit-chat").checked = key.chat_enabled;
  $("revoke-key").disabled = Boolean(key.revoked_at);
}

async function changeKey(path, method, body) {
  $("detail-error").textContent = "";
  try {
    await api(method, path, body);
    await loadKeys();
  } catch (error) {
    $("detail-error").textContent = error.message;
  }
}

function saveKey(event) {
  event.preventDefault();
  const body = { limits: limitsFrom("edit"), chat_enabled: $("edit-chat").checked };
  return changeKey(`/keys/${encodeURIComponent(state.selected)}`, "PATCH", body);
}

function revokeKey() {
  if (!window.confirm(`Revoke key ${state.selected}? Clients using it are refused at once.`)) return undefined;
  if (state.selected === $("new-key-id").textContent) dismissNewKey();
  return changeKey(`/keys/${encodeURIComponent(state.selected)}/revoke`, "POST");
}

async function loadUsage() {
  const keyId = state.selected;
  try {
    const usage = await api("GET", `/keys/${encodeURIComponent(keyId)}/usage`);
    if (keyId !== state.selected) return;
    drawChart($("chart-minute"), $("legend-minute"), usage.minute);
    drawChart($("chart-hour"), $("legend-hour"), usage.hour);
    const body = $("top-rooms").tBodies[0];
    body.replaceChildren();
    for (const [room, count] of usage.top_rooms) {
      const row = body.insertRow();
      cell(row, room);
      cell(row, String(count), "num");
    }
  } catch (error) {
    $("detail-error").textContent = error.message;
  }
}

// --- charts -----------------------------------------------------------------------------------------------

function chartSeries(chart) {
  // requests, connects and signatures as they are; every refused:<reason> added up into "refused".
  const length = Math.round((chart.resolution === "minute" ? 7200 : 2592000) / chart.step);
  const series = {};
  for (const [counter, counts] of Object.entries(chart.counts)) {
    const name = counter.startsWith("refused:") ? "refused" : counter;
    if (!(name in COLORS)) continue;
    series[name] = series[name] || new Array(length).fill(0);
    counts.forEach((n, i) => { series[name][i] += n; });
  }
  return { series, length };
}

function drawChart(canvas, legend, chart) {
  const { series, length } = chartSeries(chart);
  const context = canvas.getContext("2d");
  const width = canvas.width;
  const height = canvas.height;
  const pad = { left: 40, right: 8, top: 8, bottom: 18 };
  context.clearRect(0, 0, width, height);
  const max = Math.max(1, ...Object.values(series).flat());
  const x = (i) => pad.left + (i * (width - pad.left - pad.right)) / length;
  const y = (n) => height - pad.bottom - (n * (height - pad.top - pad.bottom)) / max;
  context.strokeStyle = "#d9dde5";
  context.fillStyle = "#6b7280";
  context.font = "11px system-ui, sans-serif";
  context.beginPath();
  context.moveTo(pad.left, y(0));
  context.lineTo(width - pad.right, y(0));
  context.stroke();
  context.fillText(String(max), 4, y(max) + 10);
  context.fillText("0", 4, y(0));
  const label = (t) => (chart.resolution === "minute"
    ? new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : new Date(t * 1000).toLocaleDateString());
  context.fillText(label(chart.start), pad.left, height - 4);
  const last = label(chart.start + (length - 1) * chart.step);
  context.fillText(last, width - pad.right - context.measureText(last).width, height - 4);
  const barWidth = Math.max(1, (width - pad.left - pad.right) / length - 1);
  for (const name of ["requests", "refused"]) {
    if (!series[name]) continue;
    context.fillStyle = COLORS[name];
    series[name].forEach((n, i) => { if (n > 0) context.fillRect(x(i), y(n), barWidth, y(0) - y(n)); });
  }
  for (const name of ["connects", "signatures"]) {
    if (!series[name]) continue;
    context.strokeStyle = COLORS[name];
    context.lineWidth = 1.5;
    context.beginPath();
    series[name].forEach((n, i) => { if (i === 0) context.moveTo(x(i), y(n)); else context.lineTo(x(i), y(n)); });
    context.stroke();
  }
  const totals = Object.entries(series).map(([name, counts]) => [name, counts.reduce((a, b) => a + b, 0)]);
  legend.replaceChildren();
  canvas.dataset.total = String(totals.filter(([name]) => name === "requests").reduce((a, [, n]) => a + n, 0));
  for (const [name, total] of totals) {
    const item = document.createElement("span");
    item.style.color = COLORS[name];
    item.dataset.counter = name;
    item.textContent = ` ${name}: ${total} `;
    legend.append(item);
  }
  if (totals.length === 0) legend.textContent = "no usage";
}

// --- the live picture -------------------------------------------------------------------------------------

function fillTable(id, rows, empty) {
  const body = $(id).tBodies[0];
  body.replaceChildren();
  if (rows.length === 0) {
    cell(body.insertRow(), empty).colSpan = 5;
    return;
  }
  for (const values of rows) {
    const row = body.insertRow();
    values.forEach((value, i) => {
      const td = cell(row, String(value), i > 0 && typeof value === "number" ? "num" : "");
      if (typeof value === "string" && /^(open|half_open|closed)$/.test(value)) td.classList.add(`state-${value}`);
    });
  }
}

function renderLive(live) {
  const numbers = live.numbers;
  const serving = live.serving;
  $("live-window").textContent = numbers.window_s ? `rates over the last ${numbers.window_s} s` : "first reading";
  const rates = numbers.requests_per_s || {};
  fillTable("live-rates", Object.keys(numbers.requests_total).sort().map(
    (d) => [d, d in rates ? rates[d] : "…", `${numbers.requests_total[d]} total`]), "no requests yet");
  fillTable("live-latency", [
    ["p50", numbers.p50_ms === null ? "–" : `${numbers.p50_ms} ms`],
    ["p99", numbers.p99_ms === null ? "–" : `${numbers.p99_ms} ms`],
    ["over", numbers.latency_scope],
  ], "");
  fillTable("live-refusals", Object.entries(numbers.refusals).sort((a, b) => b[1] - a[1]), "none");
  fillTable("refused-today", Object.entries(live.refused_today).sort((a, b) => b[1] - a[1]), "none");
  fillTable("live-strategies", serving.strategies.map((s) => {
    const outcomes = numbers.outcomes[s.name] || {};
    const text = Object.entries(outcomes).map(([o, n]) => `${o} ${n}`).join(", ") || "no attempts";
    return [s.name, s.breaker, text];
  }), "none");
  fillTable("live-signers", serving.signers.map((s) => [s.name, s.breaker]), "native signing (no backend chain)");
  fillTable("live-breakers", Object.entries(serving.breakers_open), "none");
  const drift = serving.drift_check;
  $("live-drift").textContent = drift.status + (drift.checked_at ? ` at ${new Date(drift.checked_at * 1000).toLocaleString()}` : "");
  const budget = serving.budget_per_hour;
  $("pool-summary").textContent = `${serving.identities.length} warm of ${serving.pool_size}`
    + (budget ? `, ${budget} socket connects per identity per hour` : "");
  fillTable("live-identities", serving.identities.map((i) => [
    i.key, i.profile, `${Math.round(i.age_s)} s`, i.uses, i.budget_left === null ? "–" : i.budget_left,
  ]), "no identity yet");
  fillTable("live-relay", serving.relay_rooms === null ? [] : serving.relay_rooms.map(
    (r) => [r.unique_id, r.consumers, r.callers.join(", ")]), serving.relay_rooms === null ? "no relay" : "no rooms");
}

// The timer does not wait for an answer: on a slow server an older answer can arrive after a newer one,
// and must not paint over it.
let liveAsked = 0;
let liveShown = 0;

async function loadLive() {
  const asked = ++liveAsked;
  try {
    const live = await api("GET", "/live");
    if (asked < liveShown) return;
    liveShown = asked;
    renderLive(live);
  } catch (error) {
    if (asked >= liveShown) $("live-window").textContent = error.message;
  }
}

// --- start ------------------------------------------------------------------------------------------------

async function start() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("new-key").addEventListener("submit", createKey);
  $("key-table").tBodies[0].addEventListener("click", clickedKey);
  $("key-filter").addEventListener("input", filterKeys);
  $("previous-keys").addEventListener("click", () => turnPage(-1));
  $("next-keys").addEventListener("click", () => turnPage(1));
  $("new-key-dismiss").addEventListener("click", dismissNewKey);
  $("limits-form").addEventListener("submit", saveKey);
  $("revoke-key").addEventListener("click", revokeKey);
  $("refresh-usage").addEventListener("click", () => { loadKeys(); loadUsage(); });
  // The key list is asked for with the session, not after it: it is the slowest answer of the page.
  const keys = api("GET", "/keys");
  keys.catch(() => {}); // a 401 here is the session's 401: the login form shows either way
  try {
    showConsole(await api("GET", "/session"), keys);
  } catch (error) {
    showLogin();
  }
}

document.addEventListener("DOMContentLoaded", start);
