// Send one chat message with the real, unmodified tiktok-live-connector 2.5.0 (`sendMessage`) through a sign server.
//
// Usage:
//   WHITELIST_AUTHENTICATED_SESSION_ID_HOST=127.0.0.1:S node send_chat.mjs --sign http://127.0.0.1:S
//        --room-id ID --content TEXT [--session-id SID --tt-target-idc IDC] [--api-key KEY] [--timeout 20]
//        [--package-dir ../node-2.3]   (another installed connector version, e.g. 2.3.0-beta1: POST /webcast/chat)
//
// The session goes into the connection's cookie jar (`session.cookie`) with `authenticateWs: true`, the way an
// application opts into sending it; `sendMessage` then posts `{content}` to /webcast/rooms/{id}/chat with the
// jar as `x-cookie-header`. Prints one JSON line: {"event":"outcome","ok":true,"result":<what sendMessage
// returned>} or {"event":"outcome","ok":false,"error":<class>,"message":...}. Exit status: 0 ok, 3 error, 4 timeout.

import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

import { deadline, failure, finish, number, parseArgs, run, text } from '../node-common/cli.mjs';

function chatArgs(argv) {
  const args = parseArgs(argv, { timeout: 20, sessionId: '', ttTargetIdc: '' }, {
    '--sign': text('sign'),
    '--room-id': text('roomId'),
    '--content': text('content'),
    '--session-id': text('sessionId'),
    '--tt-target-idc': text('ttTargetIdc'),
    '--api-key': text('apiKey'),
    '--timeout': number('timeout'),
    '--package-dir': text('packageDir'),
  });
  if (!args.sign || !args.roomId || args.content === undefined) throw new Error('--sign, --room-id and --content are required');
  return args;
}

async function main() {
  const args = chatArgs(process.argv.slice(2));
  process.env.SIGN_API_URL = args.sign.replace(/\/$/, '');
  if (args.apiKey) process.env.SIGN_API_KEY = args.apiKey;
  const specifier = args.packageDir
    ? pathToFileURL(createRequire(path.resolve(args.packageDir, 'package.json')).resolve('tiktok-live-connector')).href
    : 'tiktok-live-connector';
  const { TikTokLiveConnection, SignConfig } = await import(specifier);
  SignConfig.basePath = args.sign.replace(/\/$/, '');
  if (args.apiKey) SignConfig.apiKey = args.apiKey;
  const session = args.sessionId
    ? { cookie: { type: 'cookie', value: { sessionId: args.sessionId, ttTargetIdc: args.ttTargetIdc } } }
    : undefined;
  const conn = new TikTokLiveConnection('emu_streamer', { session, authenticateWs: Boolean(session) });
  deadline(args.timeout, 'no answer');
  try {
    const result = await conn.sendMessage(args.content, args.roomId);
    finish({ event: 'outcome', ok: true, result }, 0);
  } catch (err) {
    // The connector wraps route errors; the cause names the class a caller would catch (PremiumFeatureError...).
    const cause = err?.cause || err?.exception;
    finish(failure(err, 500, { cause: cause?.constructor?.name }), 3);
  }
}

run(main);
