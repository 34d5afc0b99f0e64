// The URL-signing check shared by the tiktok-live-connector 2.x directories: drive a version's own signed
// gift-list request (its RouteConfig.fetchWebcastSignatureFromProvider -> the sign server), then GET the returned
// signedUrl from the web host with the returned userAgent.
//
// Usage (through a version's script):
//   node SCRIPT.mjs --web http://127.0.0.1:E --sign http://127.0.0.1:S [--tls-url https://127.0.0.1:T]
//        [--unique-id emu_streamer] [--api-key KEY] [--timeout 20]
//
// Prints one {"event":"signed", url, method, signed_url, user_agent, tokens} line per sign call (recorded by
// wrapping the connector's own provider, which still does the work), then the outcome:
// {"event":"outcome","ok":true,"gifts":N} or {"event":"outcome","ok":false,"error":<class>,"message":...}.
// Exit status: 0 ok, 3 client error, 4 timeout.

import process from 'node:process';

import { deadline, emit, failure, finish, loopbackOptions, parseLoopbackArgs, run } from './cli.mjs';

async function main(load, fetchGifts) {
  const args = parseLoopbackArgs(process.argv.slice(2), { timeout: 20 });
  process.env.SIGN_API_URL = args.sign.replace(/\/$/, '');
  if (args.apiKey) process.env.SIGN_API_KEY = args.apiKey;
  const { TikTokLiveConnection, RouteConfig, RoomIdRouteConfig, SignConfig } = await load();
  SignConfig.basePath = args.sign.replace(/\/$/, '');
  if (args.apiKey) SignConfig.apiKey = args.apiKey;
  RoomIdRouteConfig.skipFetchRoomIdFromEulerRoute = true;

  // Record what the connector's own provider returns; the provider itself is unchanged.
  const provider = RouteConfig.fetchWebcastSignatureFromProvider;
  RouteConfig.fetchWebcastSignatureFromProvider = async (call) => {
    const result = await provider(call);
    const response = result?.response || {};
    emit({
      event: 'signed',
      url: String(call.url),
      method: call.method,
      signed_url: response.signedUrl,
      user_agent: response.userAgent,
      tokens: Object.keys(response.tokens || {}),
    });
    return result;
  };

  const conn = new TikTokLiveConnection(args.uniqueId, {
    ...loopbackOptions(args),
  });
  conn.on('error', (err) => process.stderr.write(`client error: ${err?.message || JSON.stringify(err)}\n`));

  deadline(args.timeout);

  try {
    const gifts = await fetchGifts(conn);
    finish({ event: 'outcome', ok: true, gifts: Array.isArray(gifts) ? gifts.length : null }, 0);
  } catch (err) {
    finish(failure(err, 500), 3);
  }
}

// `load` imports tiktok-live-connector from the calling version's own directory; `fetchGifts(conn)` makes that
// version's signed gift-list request and returns the gifts.
export function runSignCheck(load, fetchGifts) {
  run(() => main(load, fetchGifts), 500);
}
