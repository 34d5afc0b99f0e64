"""Open the push socket as an identity, and close it at once: does TikTok accept this identity's socket?

The direct strategy answers without asking TikTok anything, so a DEVICE_BLOCKED identity would only show in
the client's own failed handshake. With the probe (a setting: it costs a round trip and one connect of the
identity's budget) ttsign sees the refusal first, retires the identity for every replica, and tries a fresh
one. curl_cffi opens the socket with the identity's TLS fingerprint, as every other request of it.
"""

from __future__ import annotations

import re

from curl_cffi.curl import CurlError
from curl_cffi.requests import AsyncSession

from ttsign.upstream.identity.value import Identity
from ttsign.upstream.refusals import Refusal, RefusalCode, classify_error_status, classify_transport_failure
from ttsign.upstream.socket import SocketAddress, encode_query

_REFUSED_UPGRADE = re.compile(r"Refused WebSocket upgrade: (\d{3})")
_DEVICE_BLOCKED_STATUS = 415  # PirateTok: DEVICE_BLOCKED is HTTP 415 / Handshake-Msg: DEVICE_BLOCKED
_TIMEOUT_CODES = frozenset({28})  # CURLE_OPERATION_TIMEDOUT


def classify_handshake_failure(message: str, *, curl_code: int | None = None) -> Refusal:
    """A refused or failed socket handshake, from curl's error, as a refusal."""
    refused = _REFUSED_UPGRADE.search(message)
    if refused is None:
        return classify_transport_failure(timed_out=curl_code in _TIMEOUT_CODES, detail=f"socket: {message[:200]}")
    status = int(refused.group(1))
    if status == _DEVICE_BLOCKED_STATUS:
        return Refusal(RefusalCode.DEVICE_BLOCKED, "on the push socket", status)
    if status == 200:  # "Unexpected server response: 200": the socket judged the query or the identity
        return Refusal(RefusalCode.EMPTY_200, "push socket answered 200 instead of switching", status)
    return classify_error_status(status, {}, b"")


class SocketProbe:
    """Opens and closes one socket per check, within `timeout_s`."""

    def __init__(self, *, timeout_s: float, proxy: str | None = None) -> None:
        self._timeout_s = timeout_s
        self._proxy = proxy
        self._session: AsyncSession | None = None  # type: ignore[type-arg]

    async def check(self, address: SocketAddress, identity: Identity) -> Refusal | None:
        """None when TikTok accepted the handshake, else why it did not."""
        session = self._session = self._session or AsyncSession()
        headers = {
            "User-Agent": identity.profile.user_agent,
            "Cookie": identity.cookies.header(),
            "Origin": "https://www.tiktok.com",
            "Accept-Language": identity.profile.accept_language,
            "Cache-Control": "no-cache",
        }
        url = f"{address.push_server}?{encode_query(list(address.params))}"
        try:
            socket = await session.ws_connect(
                url,
                headers=headers,
                impersonate=identity.profile.impersonate,
                timeout=self._timeout_s,
                proxy=self._proxy,
            )
        except CurlError as exc:
            return classify_handshake_failure(str(exc), curl_code=exc.code)
        await socket.close()
        return None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
