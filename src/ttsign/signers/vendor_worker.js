// A long-lived worker that runs TikTok's own webmssdk.js (the operator's copy) in a Node vm behind a
// minimal browser shim, and signs requests through the SDK's public entry points. One JSON object per
// line on stdin, one answer per line on stdout (in order, but for the sign answers of a bundle whose hook
// signs asynchronously, which come back by id); no network access (XHR and fetch are inert).
//
//   start:   node vendor_worker.js BUNDLE.js [AID]  ->  {"ready": true, "entry_points": [...]}
//                                                       or {"ready": false, "error": "..."} and exit 3
//   {"id", "op": "sign", "method", "url", "body", "user_agent", "platform"}
//       -> {"id", "ok": true, "url": the URL the SDK's XHR hook sent (msToken, X-Bogus, X-Gnarly added)}
//   The SDK reads its msToken once, when it starts (localStorage "xmst", as a page that ran before), and
//   appends that token to every request, as one browser page does: a worker is one page. The token comes
//   in the environment (TTSIGN_WORKER_MS_TOKEN), not argv, which any local user can read.
//   A sign job may carry "now_ms": the SDK's clock (Date) reads that instant for this one call, so a
//   signature can be reproduced at the time it claims (the emulator's vendor-script verification).
//   {"id", "op": "frontier", "stub": "..."}  -> {"id", "ok": true, "value": frontierSign's object}
//   {"id", "op": "ws", "url": "..."}          -> {"id", "ok": true, "value": registerWsSigner's answer}
//   {"id", "op": "bench", "count", ...sign}   -> {"id", "ok": true, "each": seconds of each of `count` signs in Node}
//   {"id", "op": "ping"}                      -> {"id", "ok": true}: a round trip and nothing else (benchmarks)
//   {"id", "op": "timed", ...sign}            -> a sign's answer plus "took_s": its seconds inside the worker,
//                                                so a benchmark can tell the pipe's share of a call from the SDK's
//   any failure                               -> {"id", "ok": false, "error": "..."}
"use strict";

const fs = require("node:fs");
const readline = require("node:readline");
const vm = require("node:vm");

const [bundlePath, aidArg] = process.argv.slice(2);
const msToken = process.env.TTSIGN_WORKER_MS_TOKEN || "";
const AID = Number(aidArg || 1988);
// Paths the SDK signs; the SDK passes anything else through untouched.
const SIGNED_PATHS = ["/webcast/*", "/api/*", "/api-live/*", "/aweme/*"];

function say(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// --- the shim: just enough of a browser for the SDK to initialise and hook XMLHttpRequest -------------
const sent = new WeakMap(); // XHR -> the last URL the SDK opened it with
const delivered = new WeakMap(); // XHR -> called when the SDK's hook finally sends it (2.x builds defer)

class ShimXHR {
  constructor() {
    this.readyState = 0;
    this.status = 0;
    this.responseText = "";
    this.response = "";
    this.withCredentials = false;
    this.timeout = 0;
    this.upload = { addEventListener() {}, removeEventListener() {} };
    this.onabort = this.onload = this.onerror = this.onreadystatechange = this.ontimeout = null;
  }
  open(method, url) {
    sent.set(this, { method, url: String(url) });
  }
  send(body) {
    const last = sent.get(this);
    if (last) last.body = body;
    const wake = delivered.get(this);
    if (wake) wake();
  }
  abort() {}
  setRequestHeader() {}
  getResponseHeader() {
    return null;
  }
  getAllResponseHeaders() {
    return "";
  }
  overrideMimeType() {}
  addEventListener() {}
  removeEventListener() {}
  dispatchEvent() {
    return true;
  }
}

class ShimRequest {
  constructor(url, init) {
    this.url = String(url);
    Object.assign(this, init || {});
  }
}

class ShimHeaders {
  constructor() {
    this.values = new Map();
  }
  set(k, v) {
    this.values.set(String(k).toLowerCase(), String(v));
  }
  get(k) {
    return this.values.get(String(k).toLowerCase()) ?? null;
  }
  has(k) {
    return this.values.has(String(k).toLowerCase());
  }
}

function store() {
  const items = new Map();
  return {
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k),
    clear: () => items.clear(),
  };
}

// The SDK fingerprints a small canvas (signatures.md §1: H(canvas.toDataURL())). Drawing is not
// emulated: every call is a no-op and the picture is one fixed PNG, so one worker has one canvas value.
const CANVAS_PNG =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAADAAAAAQCAYAAABQrvyxAAAAAXNSR0IArs4c6QAAAB1JREFUSEvtwTEBAAAAwqD1T20" +
  "LL6AAAAAAAAAAAAB4GhFQAAFUrQxWAAAAAElFTkSuQmCC";

function context2d() {
  return new Proxy(
    { canvas: null, measureText: (text) => ({ width: 7 * String(text).length }), getImageData: () => ({ data: [] }) },
    { get: (target, name) => (name in target ? target[name] : () => {}), set: () => true },
  );
}

function element() {
  return {
    style: {},
    setAttribute() {},
    getAttribute() {
      return null;
    },
    appendChild() {},
    removeChild() {},
    addEventListener() {},
    width: 300,
    height: 150,
    getContext: (kind) => (kind === "2d" ? context2d() : null),
    toDataURL: () => CANVAS_PNG,
  };
}

const location = new URL("https://www.tiktok.com/");
// The 2.0.0.485 and 1.0.0.368 builds read the page's region host (config regionConf.host, which only
// TikTok's page sets) while init starts their telemetry (slardar) loader, as `new URL(host)` and, when
// that throws, `host.replace(...)`. A missing host becomes a reserved name (RFC 2606) the worker never
// reaches: telemetry is all that host serves, and the worker makes no network requests anyway.
const NO_HOST = "https://region-host.invalid/";
class PageURL extends URL {
  constructor(url, base) {
    super(url === undefined ? NO_HOST : url, base);
  }
}
// Each request sets its own User-Agent; this one is what the SDK sees while it initialises.
const START_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const navigator = {
  userAgent: START_UA,
  appCodeName: "Mozilla",
  appName: "Netscape",
  appVersion: START_UA.slice("Mozilla/".length),
  platform: "Win32",
  vendor: "Google Inc.",
  language: "en-US",
  languages: ["en-US", "en"],
  cookieEnabled: true,
  onLine: true,
  webdriver: false,
  hardwareConcurrency: 8,
  deviceMemory: 8,
  maxTouchPoints: 0,
  plugins: [],
  mimeTypes: [],
};
const document = {
  cookie: "",
  referrer: "",
  location,
  hidden: false,
  visibilityState: "visible",
  readyState: "complete",
  documentElement: element(),
  body: element(),
  head: element(),
  createElement: element,
  getElementById: () => null,
  getElementsByTagName: () => [],
  querySelector: () => null,
  querySelectorAll: () => [],
  addEventListener() {},
  removeEventListener() {},
};
const window = {
  navigator,
  document,
  location,
  XMLHttpRequest: ShimXHR,
  Request: ShimRequest,
  Headers: ShimHeaders,
  Response: class {},
  fetch: () => new Promise(() => {}), // never answers: the worker makes no network requests
  screen: { width: 1920, height: 1080, availWidth: 1920, availHeight: 1040, colorDepth: 24, pixelDepth: 24 },
  innerWidth: 1920,
  innerHeight: 969,
  outerWidth: 1920,
  outerHeight: 1040,
  devicePixelRatio: 1,
  history: { length: 2 },
  localStorage: store(),
  sessionStorage: store(),
  performance: { now: () => performance.now(), timing: {}, getEntriesByType: () => [] },
  addEventListener() {},
  removeEventListener() {},
  setTimeout,
  clearTimeout,
  setInterval,
  clearInterval,
  console: { log() {}, warn() {}, error() {}, info() {}, debug() {} },
  URL: PageURL,
  URLSearchParams,
  TextEncoder,
  TextDecoder,
  atob,
  btoa,
  crypto: globalThis.crypto,
};
window.window = window.self = window.top = window.parent = window.globalThis = window;
// The SDK creates its registry object and expects the host page to have made a per-aid options slot.
let registry;
Object.defineProperty(window, "_mssdk", {
  configurable: true,
  get: () => registry,
  set(value) {
    if (value && typeof value === "object" && !value.cacheOpts) value.cacheOpts = { [AID]: {} };
    registry = value;
  },
});

// --- load and initialise ------------------------------------------------------------------------------
const shimOpen = ShimXHR.prototype.open;

// The context's own Date, wrapped before the bundle runs so the SDK captures the wrapper: while a job
// pins a time, `new Date()` and `Date.now()` read it; otherwise the real clock.
const CLOCK_PRELUDE = `(() => {
  const Real = Date;
  let pinned = null;
  function PinnedDate(...args) {
    if (!new.target) return Real();
    return args.length === 0 && pinned !== null ? new Real(pinned) : new Real(...args);
  }
  PinnedDate.prototype = Real.prototype;
  PinnedDate.now = () => (pinned !== null ? pinned : Real.now());
  PinnedDate.parse = Real.parse;
  PinnedDate.UTC = Real.UTC;
  globalThis.Date = PinnedDate;
  return (ms) => { pinned = ms; };
})()`;
let pinClock = () => {};

// The page's global object, where the bundle runs. A context made with DONT_CONTEXTIFY (Node 20.18+,
// 22.8+) has an ordinary global object, so the SDK's global reads (its bytecode interpreter looks up
// String, Math, Date, typed arrays and the shim's names all through a signature) are plain property
// loads. A contextified sandbox sends every one of them through Node's interceptors into C++ and back:
// measured, that made each signature 15-20% slower. Older Node falls back to the sandbox.
let page = window;

function newPage(shim) {
  const plain = vm.constants && vm.constants.DONT_CONTEXTIFY;
  if (plain === undefined) return vm.createContext(shim);
  const global = vm.createContext(plain);
  Object.defineProperties(global, Object.getOwnPropertyDescriptors(shim));
  global.window = global.self = global.top = global.parent = global.globalThis = global;
  return global;
}

function start() {
  let code;
  try {
    code = fs.readFileSync(bundlePath, "utf8");
  } catch (e) {
    return `cannot read the bundle (${e.code || e.message})`;
  }
  window.localStorage.setItem("xmst", msToken);
  page = newPage(window);
  pinClock = vm.runInContext(CLOCK_PRELUDE, page);
  try {
    vm.runInContext(code, page, { filename: "webmssdk.js", timeout: 10000 });
  } catch (e) {
    return `the bundle does not run (${e.name}: ${e.message})`;
  }
  const sdk = page.byted_acrawler;
  if (!sdk || typeof sdk.init !== "function") return "the bundle defines no byted_acrawler.init";
  try {
    sdk.init({ aid: AID, enablePathList: SIGNED_PATHS });
  } catch (e) {
    return `byted_acrawler.init failed (${e.message})`;
  }
  if (page.XMLHttpRequest.prototype.open === shimOpen) {
    return "the SDK did not hook XMLHttpRequest (no X-Bogus entry point)";
  }
  return null;
}

// The instant a call signs at: the job's, else now. Pinned for the whole call, so a build that reads the
// clock once for X-Bogus and again a tick later for X-Gnarly cannot put them in different seconds.
function instantOf(job) {
  return Number.isSafeInteger(job.now_ms) ? job.now_ms : Date.now();
}

// A hook that signs asynchronously (2.x builds send on a later tick) keeps the page's clock and
// User-Agent for the whole call, so such calls run one at a time; a synchronous hook never waits here.
let deferredSigning = false; // set by the first call whose hook did not send at once
let deferredTail = Promise.resolve();

function sign(job) {
  if (deferredSigning) {
    const run = deferredTail.then(() => signDeferred(job));
    deferredTail = run.catch(() => {});
    return run;
  }
  pinClock(instantOf(job));
  try {
    const { xhr, sentNow } = open(job);
    if (!sentNow) {
      // First call on a deferring build: from now on every call waits for its send.
      deferredSigning = true;
      const run = whenSent(xhr, job).finally(() => pinClock(null));
      deferredTail = run.catch(() => {});
      return run;
    }
    return signed(xhr, job);
  } finally {
    if (!deferredSigning) pinClock(null);
  }
}

async function signDeferred(job) {
  pinClock(instantOf(job));
  try {
    const { xhr, sentNow } = open(job);
    return sentNow ? signed(xhr, job) : await whenSent(xhr, job);
  } finally {
    pinClock(null);
  }
}

function open(job) {
  useBrowser(job);
  return request(job);
}

function useBrowser(job) {
  navigator.userAgent = job.user_agent;
  navigator.appVersion = job.user_agent.replace(/^Mozilla\//, "");
  navigator.platform = job.platform || navigator.platform;
}

// One request through the SDK's XHR hook, as a page makes it: the only way in to its signing (the
// bundle exposes no URL-signing function; frontierSign signs a header stub, not a request).
function request(job) {
  const xhr = new page.XMLHttpRequest();
  let sentNow = false;
  delivered.set(xhr, () => {
    sentNow = true;
  });
  xhr.open(job.method || "GET", job.url, true);
  xhr.send(job.body ? job.body : null);
  return { xhr, sentNow };
}

function whenSent(xhr, job) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the SDK's hook never sent the request")), SEND_WAIT_MS);
    delivered.set(xhr, () => {
      clearTimeout(timer);
      try {
        resolve(signed(xhr, job));
      } catch (e) {
        reject(e);
      }
    });
  });
}
const SEND_WAIT_MS = 1000; // well under the server's hang timeout: a hook that never sends is an error

function signed(xhr, job) {
  const last = sent.get(xhr);
  if (!last || last.url === job.url) throw new Error("the SDK's hook did not sign the request");
  return { url: last.url };
}

function handle(job) {
  if (job.op === "sign") return sign(job);
  const sdk = page.byted_acrawler;
  if (job.op === "frontier") {
    if (typeof sdk.frontierSign !== "function") throw new Error("this bundle has no frontierSign");
    return { value: sdk.frontierSign({ "X-MS-STUB": String(job.stub || "") }) };
  }
  if (job.op === "bench") {
    // The ceiling for benchmarks/vendor_script.py: the SDK called in-process, no pipe, no JSON.
    return bench(job);
  }
  if (job.op === "ping") return {};
  if (job.op === "timed") return timed(job);
  if (job.op === "ws") {
    if (typeof sdk.registerWsSigner !== "function") throw new Error("this bundle has no registerWsSigner");
    return { value: sdk.registerWsSigner(job.url) };
  }
  throw new Error(`unknown op ${JSON.stringify(job.op)}`);
}

// The SDK at its cheapest: one browser for the whole run and the page's own clock, so each call is just
// the request through the hook (and, for a build whose hook sends a tick later, the wait for its send).
// It skips the queue that keeps deferred signs apart: the benchmark runs it on an otherwise idle worker.
async function bench(job) {
  useBrowser(job);
  const each = [];
  for (let i = 0; i < job.count; i++) {
    const started = process.hrtime.bigint();
    const { xhr, sentNow } = request(job);
    if (sentNow) signed(xhr, job);
    else await whenSent(xhr, job);
    each.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  return { each };
}

async function timed(job) {
  const started = process.hrtime.bigint();
  const result = await sign(job);
  return { ...result, took_s: Number(process.hrtime.bigint() - started) / 1e9 };
}

function answer(id, result) {
  say({ id, ok: true, ...result });
}

function refuse(id, e) {
  say({ id, ok: false, error: String(e && e.message ? e.message : e) });
}

const failure = start();
if (failure !== null) {
  say({ ready: false, error: failure });
  process.exit(3);
}
const sdk = page.byted_acrawler;
say({
  ready: true,
  entry_points: ["sign", ...["frontierSign", "registerWsSigner"].filter((n) => typeof sdk[n] === "function")],
});
const lines = readline.createInterface({ input: process.stdin });
// The SDK keeps timers running: without this a worker whose server died (stdin closed) would live on.
lines.on("close", () => process.exit(0));
lines.on("line", (line) => {
  let job;
  try {
    job = JSON.parse(line);
  } catch (e) {
    say({ id: null, ok: false, error: "not JSON" });
    return;
  }
  try {
    const result = handle(job);
    if (result instanceof Promise) result.then((value) => answer(job.id, value), (e) => refuse(job.id, e));
    else answer(job.id, result);
  } catch (e) {
    refuse(job.id, e);
  }
});
