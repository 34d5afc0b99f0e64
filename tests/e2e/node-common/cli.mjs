// The argument and output helpers every e2e Node script shares (node/, node-2.3/, node-1.2/ and the drivers in
// node-common/): parse `--name value` flags, print one JSON line per event, end with an outcome line and an exit
// status. The Python tests in tests/e2e/ parse these lines, so their shapes are fixed:
//   {"event": name, ...fields}                                   one per event (emit)
//   {"event":"outcome","ok":true,...}                              success, exit status 0
//   {"event":"outcome","ok":false,"error":<class>,"message":...}  a failure (failure), exit status 3
//   {"event":"outcome","ok":false,"error":"Timeout","message":...} no end in time (deadline), exit status 4

import process from 'node:process';

// Flag handlers for parseArgs: each sets `args` from the flag, `next()` reading the value that follows it.
export const text = (key) => (args, next) => { args[key] = next(); };
export const number = (key) => (args, next) => { args[key] = Number(next()); };
export const set = (key, value = true) => (args) => { args[key] = value; };
export const ignore = (args, next) => { next(); }; // takes a value and drops it

// Parse `argv` into `args` (the defaults) with `flags` ({'--name': handler}); an unknown flag throws.
export function parseArgs(argv, args, flags) {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!Object.prototype.hasOwnProperty.call(flags, flag)) throw new Error(`unknown argument ${flag}`);
    flags[flag](args, () => argv[++i]);
  }
  return args;
}

// The flags of a client run against loopback URLs (environment defaults: TTSIGN_E2E_*), with `args` and `flags`
// adding to or replacing them; --web and --sign are required.
export function parseLoopbackArgs(argv, { timeout, args = {}, flags = {} }) {
  const env = process.env;
  const defaults = {
    web: env.TTSIGN_E2E_WEB,
    tlsUrl: env.TTSIGN_E2E_TLS_URL,
    sign: env.TTSIGN_E2E_SIGN || env.SIGN_API_URL,
    uniqueId: env.TTSIGN_E2E_UNIQUE_ID || 'emu_streamer',
    apiKey: env.TTSIGN_E2E_API_KEY,
    timeout: Number(env.TTSIGN_E2E_TIMEOUT || timeout),
    ...args,
  };
  const parsed = parseArgs(argv, defaults, {
    '--web': text('web'),
    '--tls-url': text('tlsUrl'),
    '--sign': text('sign'),
    '--unique-id': text('uniqueId'),
    '--api-key': text('apiKey'),
    '--timeout': number('timeout'),
    ...flags,
  });
  if (!parsed.web || !parsed.sign) throw new Error('--web and --sign are required');
  return parsed;
}

// The 2.x connector's options that point both TikTok hosts at the emulator: its TLS listener (self-signed) when
// there is one, else its plain port, with the https:// the connector insists on turned back into http://.
export function loopbackOptions(args) {
  const host = new URL(args.tlsUrl || args.web).host;
  const webClientOptions = args.tlsUrl
    ? { https: { rejectUnauthorized: false } }
    : { hooks: { beforeRequest: [(o) => { if (o.url.protocol === 'https:') o.url.protocol = 'http:'; }] } };
  return { webConfigOverrides: { TIKTOK_HOST_WEB: host, TIKTOK_HOST_WEBCAST: host }, webClientOptions };
}

export function emit(record) {
  process.stdout.write(JSON.stringify(record) + '\n');
}

export function finish(record, code) {
  emit(record);
  // Let stdout drain before exiting.
  process.stdout.write('', () => process.exit(code));
}

// The outcome line of an error: its class and message (cut to `limit` characters), `extra` fields before the message.
export function failure(err, limit = Infinity, extra = {}) {
  return {
    event: 'outcome', ok: false, error: err?.constructor?.name || 'Error',
    ...extra, message: String(err?.message || err).slice(0, limit),
  };
}

// End the run with a Timeout outcome (exit status 4) unless it ends first; `what` says what did not come.
export function deadline(seconds, what = 'no end') {
  setTimeout(() => finish({ event: 'outcome', ok: false, error: 'Timeout', message: `${what} within ${seconds}s` }, 4),
    seconds * 1000);
}

// Run `main`; whatever it throws ends the run with a failure outcome (exit status 3).
export function run(main, limit = Infinity) {
  main().catch((err) => finish(failure(err, limit), 3));
}

// Connect `conn` (a tiktok-live-connector connection) and end the run with its outcome: on 'disconnected' the line
// `disconnected(data)` then ok (exit status 0); a Timeout after `seconds` (4); a failure if connect() throws (3).
export async function connectUntilDisconnected(conn, seconds, disconnected) {
  conn.on('disconnected', (data) => {
    emit(disconnected(data));
    finish({ event: 'outcome', ok: true }, 0);
  });
  deadline(seconds);
  try {
    await conn.connect();
  } catch (err) {
    finish(failure(err, 500), 3);
  }
}
