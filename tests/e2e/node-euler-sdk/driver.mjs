// Call Euler's newer routes through the real, unmodified tiktok-live-api-sdk 0.6.0: accounts.getRateLimits
// (GET /accounts/me/rate_limits), signing.signTikTokUrl (POST /tiktok/signing/encrypt/sign_url) and
// anchors.fetchWebcastURLByUniqueId (GET /webcast/anchors/{unique_id}/connect), built and sent by the SDK's axios
// client with its own defaults (X-Api-Key from `apiKey`, every status resolved, not thrown).
//
// Usage: node driver.mjs --sign http://127.0.0.1:S --url URL_TO_SIGN [--unique-id NAME] [--api-key KEY]
//          [--user-agent UA] [--ttwid VALUE] [--include-browser-params] [--limit-type WEBCAST] [--timeout 20]
// Prints one JSON line per call (the same shapes as ../clients/euler_sdk_client.py), then the outcome line
// (../node-common/cli.mjs).
import EulerStreamApiClient from 'tiktok-live-api-sdk';

import { deadline, emit, finish, number, parseArgs, run, set, text } from '../node-common/cli.mjs';

const args = parseArgs(process.argv.slice(2), { uniqueId: 'emu_streamer', limitType: 'WEBCAST', timeout: 20 }, {
  '--sign': text('sign'),
  '--url': text('url'),
  '--unique-id': text('uniqueId'),
  '--api-key': text('apiKey'),
  '--user-agent': text('userAgent'),
  '--ttwid': text('ttwid'),
  '--include-browser-params': set('includeBrowserParams'),
  '--limit-type': text('limitType'),
  '--timeout': number('timeout'),
});

async function main() {
  if (!args.sign || !args.url) throw new Error('--sign and --url are required');
  deadline(args.timeout);
  const client = new EulerStreamApiClient({ basePath: args.sign, apiKey: args.apiKey });

  const limits = await client.accounts.getRateLimits(args.limitType);
  emit({ event: 'rate_limits', status: limits.status, body: limits.data });

  const body = { url: args.url, method: 'GET', type: 'fetch', includeBrowserParams: Boolean(args.includeBrowserParams) };
  if (args.userAgent) body.userAgent = args.userAgent;
  if (args.ttwid) body.ttwid = args.ttwid;
  const signed = await client.signing.signTikTokUrl(body, 'ttlive-node');
  const result = signed.data?.response || {};
  emit({
    event: 'signed', status: signed.status, code: signed.data?.code, signed_url: result.signedUrl,
    user_agent: result.userAgent, tokens: Object.keys(result.tokens || {}).sort(), cookies: result.cookies || [],
  });

  const connect = await client.anchors.fetchWebcastURLByUniqueId(
    args.uniqueId, 'ttlive-node', undefined, args.userAgent, true, 'web', undefined, undefined,
    { responseType: 'arraybuffer' },
  );
  emit({
    event: 'connect', status: connect.status, content_type: connect.headers['content-type'],
    payload_b64: Buffer.from(connect.data).toString('base64'),
    set_tt_cookie: connect.headers['x-set-tt-cookie'], room_id: connect.headers['x-room-id'],
  });
  finish({ event: 'outcome', ok: true }, 0);
}

run(main, 500);
