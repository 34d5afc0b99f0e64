"""sign_url does not wait on a slow cookie page past its identity timeout: it signs with a generated msToken."""

from __future__ import annotations

import asyncio
import random
import time

from ttsign.service.sign import SignService, SignUrlRequest
from ttsign.signing import BrowserProfile, is_valid_ms_token
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import Identity, IdentityPool

URL = "https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id=7"


async def slow_factory(profile: BrowserProfile) -> Identity:
    await asyncio.sleep(0.5)
    return Identity(
        "7000000000000000001", profile, CookieJar({"ttwid": "tw-1", "msToken": "M" * 148}), created_at=time.monotonic()
    )


async def test_a_slow_identity_falls_back_to_a_generated_token_in_time() -> None:
    service = SignService(IdentityPool(slow_factory), rng=random.Random(1), identity_timeout_s=0.1)
    started = time.monotonic()
    result = await service.sign_url(SignUrlRequest(URL))
    assert time.monotonic() - started < 0.4
    assert result.identity_source == "generated"
    assert is_valid_ms_token(result.tokens["msToken"]) and result.tokens["msToken"] != "M" * 148
    await asyncio.sleep(0.5)  # the bootstrap went on in the background: the next caller gets the identity
    again = await service.sign_url(SignUrlRequest(URL))
    assert again.identity_source == "tiktok" and again.tokens["msToken"] == "M" * 148


async def test_without_a_timeout_the_identity_is_awaited() -> None:
    service = SignService(IdentityPool(slow_factory), rng=random.Random(2))
    result = await service.sign_url(SignUrlRequest(URL))
    assert result.identity_source == "tiktok"
