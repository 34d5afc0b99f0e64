"""The signed im/fetch: parameters, headers, signatures, token rotation and refusals."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlsplit

import pytest

from ttsign.signing import default_profile, verify_request
from ttsign.signing.signer import SignJob, sign_job
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import Identity
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.signer import Signed
from ttsign.upstream.transport import UpstreamRequest, UpstreamResponse
from ttsign.upstream.webcast import IM_FETCH_PATH, Fetched, RoomRequest, WebcastClient

from .fake_tiktok import ROTATED_TOKEN, FakeTikTok

BASE = "http://127.0.0.1:9"


def identity(profile_name: str | None = None) -> Identity:
    cookies = CookieJar({"ttwid": "1%7Cissued%7C1", "msToken": "M" * 148})
    return Identity("7123456789012345678", default_profile(profile_name), cookies, created_at=0.0)


def client(tiktok: FakeTikTok, email: str = "ops@example.org") -> WebcastClient:
    return WebcastClient(tiktok, webcast_base=BASE, contact_email=email, rng=random.Random(5))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


async def test_request_carries_the_euler_guide_parameters_and_the_identity() -> None:
    ident = identity()
    prepared = await client(FakeTikTok()).build_request(ident, RoomRequest("7390000000000000001", "c0", "ext0"))
    request = prepared.request  # type: ignore[union-attr]
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BASE + IM_FETCH_PATH
    query = query_of(request.url)
    expected = {
        "aid": "1988",
        "app_name": "tiktok_web",
        "device_platform": "web",
        "resp_content_type": "protobuf",
        "did_rule": "3",
        "fetch_rule": "1",
        "live_id": "12",
        "identity": "audience",
        "version_code": "270000",
        "sup_ws_ds_opt": "1",
        "notice": "CUSTOM_SIGN_SERVER",
        "contact_us": "ops@example.org",
        "device_id": "7123456789012345678",
        "room_id": "7390000000000000001",
        "cursor": "c0",
        "internal_ext": "ext0",
        "browser_name": ident.profile.browser_name,
        "browser_version": ident.profile.browser_version,
        "browser_platform": ident.profile.browser_platform,
        "msToken": "M" * 148,
    }
    assert {k: query.get(k) for k in expected} == expected
    assert query["X-Bogus"] and query["X-Gnarly"]
    assert list(query)[-3:] == ["msToken", "X-Bogus", "X-Gnarly"]


async def test_request_headers_are_the_profiles_browser_with_the_identitys_cookies() -> None:
    ident = identity("firefox133-windows")
    request = (await client(FakeTikTok()).build_request(ident, RoomRequest("1"))).request
    assert request.headers["User-Agent"] == ident.profile.user_agent
    assert request.headers["Referer"] == "https://www.tiktok.com/"
    assert request.headers["Origin"] == "https://www.tiktok.com"
    assert request.headers["Cookie"] == "ttwid=1%7Cissued%7C1; msToken=" + "M" * 148
    assert request.impersonate == ident.profile.impersonate


async def test_signatures_verify_against_the_exact_url_and_user_agent() -> None:
    ident = identity()
    request = (await client(FakeTikTok()).build_request(ident, RoomRequest("42", "", ""))).request
    import time

    now_ms = time.time_ns() // 1_000_000
    assert verify_request(request.url, "", ident.profile.user_agent, now_ms=now_ms).ok
    other_ua = default_profile("firefox133-windows").user_agent
    assert not verify_request(request.url, "", other_ua, now_ms=now_ms).ok
    tampered = request.url.replace("room_id=42", "room_id=43")
    assert not verify_request(tampered, "", ident.profile.user_agent, now_ms=now_ms).ok


async def test_successful_fetch_returns_tiktoks_bytes_and_the_ttwid() -> None:
    tiktok = FakeTikTok()
    outcome = await client(tiktok).fetch(identity(), RoomRequest("777"))
    assert tiktok.verification_failures == []
    assert isinstance(outcome, Fetched)
    assert outcome.payload.cursor == "cursor-777"
    assert outcome.ttwid == "1%7Cissued%7C1"


async def test_rotated_ms_token_is_used_next_time() -> None:
    tiktok = FakeTikTok(rotate_ms_token=True)
    ident = identity()
    wc = client(tiktok)
    assert isinstance(await wc.fetch(ident, RoomRequest("1")), Fetched)
    assert ident.ms_token == ROTATED_TOKEN
    await wc.fetch(ident, RoomRequest("1"))
    assert query_of(tiktok.fetches[1].url)["msToken"] == ROTATED_TOKEN
    assert tiktok.verification_failures == []


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("empty", RefusalCode.EMPTY_200),
        ("forbidden", RefusalCode.FORBIDDEN_403),
        ("captcha", RefusalCode.CAPTCHA),
        ("not_live", RefusalCode.ROOM_NOT_LIVE),
        ("not_found", RefusalCode.ROOM_NOT_FOUND),
        ("garbled", RefusalCode.MALFORMED_PAYLOAD),
        ("5xx", RefusalCode.UPSTREAM_5XX),
        ("timeout", RefusalCode.TIMEOUT),
        ("reset", RefusalCode.TRANSPORT_ERROR),
    ],
)
async def test_refusals_come_back_as_values(mode: str, code: RefusalCode) -> None:
    outcome = await client(FakeTikTok(mode=mode)).fetch(identity(), RoomRequest("1"))
    assert isinstance(outcome, Refusal)
    assert outcome.code is code


@pytest.mark.parametrize(
    "room", [RoomRequest("1"), RoomRequest("7390000000000000001", "1700000000_abc", "internal_src:dim|wss:1 2&x=y")]
)
def test_cached_query_template_equals_a_fresh_encoding(room: RoomRequest) -> None:
    from urllib.parse import quote, urlencode

    from ttsign.upstream.webcast import QueryTemplate, im_fetch_params

    params = im_fetch_params(identity(), room, contact_email="a+b@example.org")
    template = QueryTemplate(im_fetch_params(identity(), RoomRequest(""), contact_email="a+b@example.org"))
    assert template.render(room) == urlencode(params, quote_via=quote, safe="")


@pytest.mark.parametrize(
    "chosen",
    [
        frozenset(),
        frozenset({"msToken"}),
        frozenset({"msToken", "X-Bogus"}),
        frozenset({"msToken", "X-Bogus", "X-Gnarly"}),
    ],
)
async def test_im_fetch_carries_exactly_the_signatures_the_endpoint_table_names(chosen: frozenset[str]) -> None:
    webcast = WebcastClient(FakeTikTok(), webcast_base=BASE, rng=random.Random(5), signatures=chosen)
    query = query_of((await webcast.build_request(identity(), RoomRequest("7"))).request.url)
    assert {name for name in ("msToken", "X-Bogus", "X-Gnarly") if name in query} == chosen


async def test_a_signature_the_table_leaves_out_keeps_the_others_byte_for_byte() -> None:
    async def built(chosen: frozenset[str]) -> str:
        webcast = WebcastClient(
            FakeTikTok(), webcast_base=BASE, rng=random.Random(5), now_ms=lambda: 1_700_000_000_000, signatures=chosen
        )
        return (await webcast.build_request(identity(), RoomRequest("7"))).request.url

    full = await built(frozenset({"msToken", "X-Bogus", "X-Gnarly"}))
    assert full.startswith(await built(frozenset({"msToken", "X-Bogus"})) + "&X-Gnarly=")


async def test_first_fetch_uses_the_players_query_without_empty_values() -> None:
    query = query_of((await client(FakeTikTok(), email="").build_request(identity(), RoomRequest("7"))).request.url)
    assert (query["cursor"], query["internal_ext"], query["last_rtt"]) == ("0", "0", "-1")
    assert all(query.values()), [key for key, value in query.items() if not value]


def test_unknown_signature_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown signatures"):
        WebcastClient(FakeTikTok(), webcast_base=BASE, signatures=frozenset({"a_bogus"}))


class TwoBackends:
    """Signs natively as "first", then as "second" unless `second_unavailable`; records what is blamed."""

    backends = ("first", "second")

    def __init__(self, *, second_unavailable: bool = False) -> None:
        self.second_unavailable = second_unavailable
        self.blamed: list[str] = []
        self.asked: list[frozenset[str]] = []

    async def sign(self, job: SignJob, rng: random.Random, *, besides: frozenset[str] = frozenset()) -> object:
        self.asked.append(besides)
        backend = next(name for name in self.backends if name not in besides)
        if backend == "second" and self.second_unavailable:
            return Refusal(RefusalCode.SIGNER_UNAVAILABLE, "second: worker_crash")
        return Signed(sign_job(job, rng), backend)

    def signature_refused(self, backend: str) -> None:
        self.blamed.append(backend)


class RefusesFirstSignature(FakeTikTok):
    """Answers the first im/fetch with an empty 200 (as TikTok answers a signature it rejects)."""

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        if IM_FETCH_PATH in request.url and not self.fetches:
            self.requests.append(request)
            return UpstreamResponse(200, (), b"")
        return await super().send(request)


def signed_client(tiktok: FakeTikTok, signer: TwoBackends) -> WebcastClient:
    full = frozenset({"msToken", "X-Bogus", "X-Gnarly"})
    return WebcastClient(tiktok, webcast_base=BASE, rng=random.Random(5), signer=signer, signatures=full)  # type: ignore[arg-type]


async def test_a_refused_signature_is_signed_again_by_the_next_backend_which_alone_is_not_blamed() -> None:
    signer = TwoBackends()
    outcome = await signed_client(RefusesFirstSignature(), signer).fetch(identity(), RoomRequest("7"))
    assert isinstance(outcome, Fetched)
    assert signer.asked == [frozenset(), frozenset({"first"})] and signer.blamed == ["first"]


async def test_when_the_next_backend_cannot_sign_tiktoks_own_refusal_is_the_answer() -> None:
    signer = TwoBackends(second_unavailable=True)
    outcome = await signed_client(RefusesFirstSignature(), signer).fetch(identity(), RoomRequest("7"))
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.EMPTY_200
    assert signer.blamed == []


async def test_every_backend_refused_alike_blames_none() -> None:
    signer = TwoBackends()
    outcome = await signed_client(FakeTikTok(mode="empty"), signer).fetch(identity(), RoomRequest("7"))
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.EMPTY_200
    assert len(signer.asked) == 2 and signer.blamed == []
