// Drive the real, unmodified tiktok-live-connector 2.3.0-beta1 (the only published 2.3.x; this directory's
// node_modules) against loopback URLs. Flags and output: ../node-common/live_client.mjs.
// 2.3 talks to the sign server through @eulerstream/euler-api-sdk 0.3.0: GET {sign}/webcast/fetch (client=ttlive-node,
// room_id, cursor, user_agent, client_enter, platform) for the first fetch, GET {sign}/webcast/room_id?uniqueId= as
// the last room-id fallback (--euler-room-id), and POST {sign}/webcast/sign_url for signed requests (sign_url.mjs).
// Its --gift-info gift list is NOT signed.
import { runClient } from '../node-common/live_client.mjs';

runClient(() => import('tiktok-live-connector'));
