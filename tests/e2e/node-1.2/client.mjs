// Drive the real, unmodified tiktok-live-connector (npm 1.2.3) against loopback URLs; one JSON line per event.
//
// Usage (same flags and output as ../node/client.mjs):
//   node client.mjs --web http://127.0.0.1:E --sign http://127.0.0.1:S --unique-id emu_streamer
//        [--webcast URL] [--api-key KEY] [--timeout 30] [--no-room-info] [--gift-info]
//
// 1.2.3 is CommonJS and builds every TikTok URL as `${Config.TIKTOK_URL_WEB|WEBCAST}${path}` from the mutable
// module object dist/lib/webcastConfig.js, so plain http on loopback works (no https-on-loopback quirk, no --tls-url).
// Signing: `signatureProvider.config.signProviderHost = 'http://host:port/'` (trailing slash; it requests
// host + 'webcast/sign_url'), no fallback hosts, `extraParams.apiKey` for a key. The client sends the legacy
// GET /webcast/sign_url?url=<full im/fetch URL>&client=ttlive-node[&apiKey=]&uuc=N, then GETs the returned
// `signedUrl` itself with the returned `User-Agent` and `msToken` cookie, then opens the WebSocket.
// Every event prints {"event": name, ...fields}; the last line is the outcome:
// {"event":"outcome","ok":true} after a clean disconnect, or {"event":"outcome","ok":false,"error":<class>,"message":...}.
// Exit status: 0 ok, 3 client error, 4 timeout.

import { createRequire } from 'node:module';
import process from 'node:process';

import { connectUntilDisconnected, emit, finish, ignore, parseLoopbackArgs, run, set, text } from '../node-common/cli.mjs';

const require = createRequire(import.meta.url);

function parseArgs(argv) {
  return parseLoopbackArgs(argv, {
    timeout: 30,
    args: { webcast: process.env.TTSIGN_E2E_WEBCAST, roomInfo: true, giftInfo: false },
    flags: {
      '--webcast': text('webcast'),
      '--tls-url': ignore, // accepted for parity with the 2.x drivers; 1.2.3 needs no TLS
      '--no-room-info': set('roomInfo', false),
      '--gift-info': set('giftInfo'),
    },
  });
}

// 1.2.3 hands listeners "simplified" objects (flattened user, camelCase fields).
function fields(name, data) {
  const out = { event: name };
  // msgId comes from the message's common block (1.2.3's schema calls it `event`), flattened into the object.
  const msgId = data?.msgId;
  if (msgId && msgId !== '0') out.msg_id = String(msgId);
  const user = data?.uniqueId;
  if (user) out.user = user;
  switch (name) {
    case 'chat': out.content = data.comment; break;
    case 'gift':
      out.gift_id = String(data.giftId);
      out.repeat_count = data.repeatCount;
      out.repeat_end = Boolean(data.repeatEnd);
      break;
    case 'like': out.count = data.likeCount; out.total = data.totalLikeCount; break;
    case 'member': out.action = data.actionId; break;
    case 'roomUser': out.total = Number(data.viewerCount); break;
    case 'streamEnd': out.action = data.action; break;
    case 'connected': out.room_id = String(data?.roomId ?? ''); break;
    default: break;
  }
  return out;
}

function trimSlash(url) {
  return url.replace(/\/+$/, '');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { WebcastPushConnection, signatureProvider } = require('tiktok-live-connector');
  const config = require('tiktok-live-connector/dist/lib/webcastConfig.js');
  const version = require('tiktok-live-connector/package.json').version;
  if (version !== '1.2.3') return finish({ event: 'outcome', ok: false, error: 'WrongVersion', message: version }, 3);

  config.TIKTOK_URL_WEB = `${trimSlash(args.web)}/`;
  config.TIKTOK_URL_WEBCAST = `${trimSlash(args.webcast || args.web)}/webcast/`;
  signatureProvider.config.signProviderHost = `${trimSlash(args.sign)}/`;
  signatureProvider.config.signProviderFallbackHosts = [];
  if (args.apiKey) signatureProvider.config.extraParams.apiKey = args.apiKey;

  const conn = new WebcastPushConnection(args.uniqueId, {
    fetchRoomInfoOnConnect: args.roomInfo,
    enableExtendedGiftInfo: args.giftInfo,
    processInitialData: true,
  });

  const names = ['chat', 'gift', 'like', 'member', 'follow', 'share', 'social', 'roomUser', 'streamEnd', 'connected'];
  for (const name of names) conn.on(name, (data) => emit(fields(name, data)));
  // Library-internal errors (e.g. "Upgrade to websocket failed") go to stderr; the outcome says what ended the run.
  conn.on('error', (err) => process.stderr.write(`client error: ${err?.info}: ${err?.exception}\n`));
  await connectUntilDisconnected(conn, args.timeout, () => ({ event: 'disconnected' }));
}

run(main);
