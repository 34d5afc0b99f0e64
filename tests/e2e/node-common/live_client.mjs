// The tiktok-live-connector 2.x driver shared by every 2.x version directory (node/ = 2.5.0, node-2.3/ =
// 2.3.0-beta1): connect through loopback URLs, print one JSON line per event.
//
// Usage (through a version's client.mjs):
//   node client.mjs --web http://127.0.0.1:E --sign http://127.0.0.1:S --unique-id emu_streamer
//        [--tls-url https://127.0.0.1:T] [--api-key KEY] [--timeout 30] [--no-room-info] [--gift-info] [--ping-ms 500]
//        [--euler-room-id]
//
// The connector forces https for loopback hosts (spec §2.2). With --tls-url it talks to the emulator's TLS
// listener (self-signed: rejectUnauthorized false); without it, a got hook downgrades https to http.
// --euler-room-id skips the HTML and api-live room-id sources so the sign server's room-id fallback runs.
// Every event prints {"event": name, ...fields}; the last line is the outcome:
// {"event":"outcome","ok":true} after a clean disconnect, or {"event":"outcome","ok":false,"error":<class>,"message":...}.
// Exit status: 0 ok, 3 client error, 4 timeout.

import process from 'node:process';

import { connectUntilDisconnected, emit, loopbackOptions, number, parseLoopbackArgs, run, set } from './cli.mjs';

function parseArgs(argv) {
  const env = process.env;
  return parseLoopbackArgs(argv, {
    timeout: 30,
    args: {
      roomInfo: true,
      giftInfo: false,
      eulerRoomId: false,
      pingMs: env.TTSIGN_E2E_NODE_PING_MS ? Number(env.TTSIGN_E2E_NODE_PING_MS) : undefined,
    },
    flags: {
      '--no-room-info': set('roomInfo', false),
      '--ping-ms': number('pingMs'),
      '--gift-info': set('giftInfo'),
      '--euler-room-id': set('eulerRoomId'),
    },
  });
}

function fields(name, data) {
  const out = { event: name };
  const msgId = data?.common?.msgId;
  if (msgId && msgId !== '0') out.msg_id = String(msgId);
  const user = data?.user?.displayId || data?.user?.uniqueId;
  if (user) out.user = user;
  switch (name) {
    case 'chat': out.content = data.content; break;
    case 'gift':
      out.gift_id = String(data.giftId);
      out.repeat_count = data.repeatCount;
      out.repeat_end = Boolean(data.repeatEnd);
      break;
    case 'like': out.count = data.likeCount ?? data.count; out.total = data.totalLikeCount ?? data.total; break;
    case 'member': out.action = data.action; break;
    case 'roomUser': out.total = Number(data.viewerCount ?? data.total); break;
    case 'controlMessage': out.action = data.action; break;
    case 'streamEnd': out.action = data.action; break;
    case 'connected': out.room_id = String(data?.roomId ?? ''); break;
    case 'disconnected': out.code = data?.code; out.reason = data?.reason ?? ''; break;
    default: break;
  }
  return out;
}

async function main(load) {
  const args = parseArgs(process.argv.slice(2));
  // Read by the connector at import time (SignConfig.basePath): set it before the dynamic import.
  process.env.SIGN_API_URL = args.sign.replace(/\/$/, '');
  if (args.apiKey) process.env.SIGN_API_KEY = args.apiKey;
  const connector = await load();
  const { TikTokLiveConnection, RoomIdRouteConfig, IsLiveRouteConfig, SignConfig } = connector;
  SignConfig.basePath = args.sign.replace(/\/$/, '');
  if (args.apiKey) SignConfig.apiKey = args.apiKey;
  RoomIdRouteConfig.skipFetchRoomIdFromEulerRoute = !args.eulerRoomId;
  IsLiveRouteConfig.skipFetchRoomIdFromEulerRoute = true;
  if (args.eulerRoomId) {
    RoomIdRouteConfig.skipFetchRoomInfoFromHtmlRoute = true;
    RoomIdRouteConfig.skipFetchRoomInfoFromApiLiveRoute = true;
  }

  const conn = new TikTokLiveConnection(args.uniqueId, {
    ...loopbackOptions(args),
    fetchRoomInfoOnConnect: args.roomInfo,
    // 2.5 signs the gift-list URL through POST {sign}/tiktok/sign_url; 2.3 fetches it unsigned.
    enableExtendedGiftInfo: args.giftInfo,
    processInitialData: true,
    // The connector's first heartbeat comes 10 s after open; tests that check heartbeats shorten it.
    ...(args.pingMs ? { wsConfigOverrides: { DEFAULT_WS_PING_INTERVAL: args.pingMs } } : {}),
  });

  const names = ['chat', 'gift', 'like', 'member', 'follow', 'share', 'social', 'roomUser', 'controlMessage',
    'streamEnd', 'enterRoom', 'connected'];
  for (const name of names) conn.on(name, (data) => emit(fields(name, data)));
  await connectUntilDisconnected(conn, args.timeout, (data) => fields('disconnected', data));
}

// `load` imports tiktok-live-connector from the calling version's own directory (its node_modules).
export function runClient(load) {
  run(() => main(load));
}
