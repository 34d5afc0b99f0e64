// Drive the real, unmodified tiktok-live-connector 2.5.0 (this directory's node_modules) against loopback URLs.
// Flags and output: ../node-common/live_client.mjs. 2.5 asks GET {sign}/webcast/rooms/{id}/connect and signs its
// gift list (--gift-info) through POST {sign}/tiktok/sign_url.
import { runClient } from '../node-common/live_client.mjs';

runClient(() => import('tiktok-live-connector'));
