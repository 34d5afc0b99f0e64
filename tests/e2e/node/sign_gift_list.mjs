// Exercise tiktok-live-connector 2.5.0's gift-list signing (the path `enableExtendedGiftInfo` takes on connect):
// fetchAvailableGifts() -> GET webcast/gift/list/ with signRequest=true -> RouteConfig.fetchWebcastSignatureFromProvider
// -> POST {sign}/tiktok/sign_url?client=ttlive-node (JSON {url, method, userAgent}) -> GET the returned signedUrl
// from the web host with the returned userAgent.
// Flags and output: ../node-common/sign_check.mjs.
import { runSignCheck } from '../node-common/sign_check.mjs';

runSignCheck(
  () => import('tiktok-live-connector'),
  async (conn) => {
    await conn.fetchRoomId();
    return conn.fetchAvailableGifts();
  },
);
