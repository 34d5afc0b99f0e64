// Exercise tiktok-live-connector 2.3.0-beta1's URL signing: the web client's own `request({signRequest: true})`
// path (what any signed webcast call of 2.3 goes through) on GET webcast/gift/list/ ->
// RouteConfig.fetchWebcastSignatureFromProvider -> POST {sign}/webcast/sign_url?client=ttlive-node
// (JSON {url, method, userAgent}, via @eulerstream/euler-api-sdk 0.3.0) -> GET the returned signedUrl from the
// web host with the returned userAgent. (2.3's own gift-list fetch is unsigned; 2.4+ sign it via /tiktok/sign_url.)
// Flags and output: ../node-common/sign_check.mjs.
import { runSignCheck } from '../node-common/sign_check.mjs';

runSignCheck(
  () => import('tiktok-live-connector'),
  async (conn) => {
    const roomId = await conn.fetchRoomId();
    const params = { ...conn.webClient.clientParams, room_id: roomId };
    const body = await conn.webClient.getJsonObjectFromWebcastApi('gift/list/', params, true);
    return body?.data?.gifts;
  },
);
