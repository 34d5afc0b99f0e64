"""ttsign's own TikTok requests read one table: the signer environment's, with TTSIGN_SIGNATURES_BY_ENDPOINT as
explicit overrides (Settings.endpoint_overrides -> SignerEnvironment.with_endpoint_signatures -> signatures_for)."""

from __future__ import annotations

import asyncio
import random
from functools import partial
from urllib.parse import parse_qs, urlsplit

from tests.upstream.fake_tiktok import FETCH_PATH, FakeTikTok
from ttsign.config import Settings
from ttsign.signing import default_profile
from ttsign.signing.environment import VENDOR_5_1_3, XBOGUS_1_0_0_368
from ttsign.signing.signer import sign_job
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import Identity
from ttsign.upstream.signer import InProcessSigner
from ttsign.upstream.socket import SOCKET_PATH
from ttsign.upstream.webcast import IM_FETCH_PATH, Prepared, RoomRequest, WebcastClient


def _identity() -> Identity:
    cookies = CookieJar({"ttwid": "1%7Cissued%7C1", "msToken": "M" * 148})
    return Identity("7123456789012345678", default_profile(), cookies, created_at=0.0)


def _fetch_query(settings: Settings) -> dict[str, list[str]]:
    table = VENDOR_5_1_3.with_endpoint_signatures(settings.endpoint_overrides())
    client = WebcastClient(
        FakeTikTok(),
        webcast_base="http://127.0.0.1:9",
        signer=InProcessSigner(partial(sign_job, environment=table)),
        rng=random.Random(1),
        signatures=table.signatures_for(IM_FETCH_PATH),
    )
    prepared = asyncio.run(client.build_request(_identity(), RoomRequest("7")))
    assert isinstance(prepared, Prepared)
    return parse_qs(urlsplit(prepared.request.url).query)


def test_default_settings_send_im_fetch_unsigned() -> None:
    query = _fetch_query(Settings())
    assert not {"msToken", "X-Bogus", "X-Gnarly"} & set(query)


def test_the_fetch_path_override_signs_im_fetch_with_all_three() -> None:
    query = _fetch_query(Settings(**FETCH_PATH))  # type: ignore[arg-type]
    assert {"msToken", "X-Bogus", "X-Gnarly"} <= set(query)


def test_an_override_names_one_endpoint_and_the_others_keep_the_environments_entry() -> None:
    settings = Settings(signatures_by_endpoint={"im_fetch": ["X-Bogus"], "socket": []})
    table = XBOGUS_1_0_0_368.with_endpoint_signatures(settings.endpoint_overrides())
    assert table.signatures_for(IM_FETCH_PATH) == {"X-Bogus"}
    assert table.signatures_for(SOCKET_PATH) == frozenset()
    assert table.signatures_for("/webcast/room/chat/") == {"msToken", "X-Bogus"}  # the environment's own


def test_every_endpoint_name_maps_to_a_path_of_its_consumer() -> None:
    overrides = Settings(signatures_by_endpoint={"im_fetch": [], "socket": [], "room_chat": []}).endpoint_overrides()
    assert IM_FETCH_PATH.startswith(next(p for p in overrides if "fetch" in p))
    assert SOCKET_PATH.startswith(next(p for p in overrides if "ws_proxy" in p))
