"""The connect use case over a fake TikTok."""

from __future__ import annotations

import random

import pytest

from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.service.connect import Connected, ConnectService, InvalidInput
from ttsign.signing import default_profile
from ttsign.upstream.identity import IdentityPool, bootstrap_identity
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.retry import RetryPolicy
from ttsign.upstream.rooms import RoomDirectory
from ttsign.upstream.webcast import WebcastClient

BASE = "http://127.0.0.1:9"
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0"


def service(tiktok: FakeTikTok, **kwargs: object) -> ConnectService:
    rng = random.Random(9)

    async def factory(profile: object, name: str | None = None) -> object:
        return await bootstrap_identity(tiktok, BASE, profile, name, rng=rng)  # type: ignore[arg-type]

    pool = IdentityPool(factory)  # type: ignore[arg-type]
    rooms = RoomDirectory(tiktok, www_base=BASE)
    webcast = WebcastClient(tiktok, webcast_base=BASE, rng=rng)
    return ConnectService(pool, webcast, rooms=rooms, **kwargs)  # type: ignore[arg-type]


async def test_connect_returns_tiktoks_payload_and_the_ttwid_tiktok_issued() -> None:
    tiktok = FakeTikTok()
    result = await service(tiktok).connect("7390000000000000001", request_id="r1")
    assert isinstance(result, Connected), result
    assert result.room_id == "7390000000000000001"
    assert result.request_id == "r1"
    assert result.ttwid.startswith("1%7Cttwid-")
    assert tiktok.fetches[0].headers["Cookie"].startswith(f"ttwid={result.ttwid}")
    assert tiktok.verification_failures == []


async def test_client_user_agent_is_honoured_when_consistent() -> None:
    tiktok = FakeTikTok()
    result = await service(tiktok).connect("1", user_agent=FIREFOX_UA)
    assert isinstance(result, Connected)
    assert tiktok.fetches[0].headers["User-Agent"] == FIREFOX_UA
    assert result.profile_name.startswith("firefox")


@pytest.mark.parametrize(
    "ua", ["TikTokLive.py/7.0.1", "", None, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"]
)
async def test_unusable_user_agents_fall_back_to_the_default_profile(ua: str | None) -> None:
    tiktok = FakeTikTok()
    result = await service(tiktok).connect("1", user_agent=ua)
    assert isinstance(result, Connected)
    assert tiktok.fetches[0].headers["User-Agent"] == default_profile().user_agent


async def test_client_user_agent_ignored_when_configured() -> None:
    tiktok = FakeTikTok()
    await service(tiktok, honour_client_user_agent=False).connect("1", user_agent=FIREFOX_UA)
    assert tiktok.fetches[0].headers["User-Agent"] == default_profile().user_agent


async def test_identity_is_reused_across_connects() -> None:
    tiktok = FakeTikTok()
    svc = service(tiktok)
    first = await svc.connect("1")
    second = await svc.connect("2")
    assert isinstance(first, Connected) and isinstance(second, Connected)
    assert first.ttwid == second.ttwid
    assert len(tiktok.bootstraps) == 1


async def test_identity_refusal_retires_the_identity_but_room_refusal_does_not() -> None:
    tiktok = FakeTikTok(mode="not_live")
    svc = service(tiktok)
    refusal = await svc.connect("1")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.ROOM_NOT_LIVE
    tiktok.mode = "empty"
    refusal = await svc.connect("1")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.EMPTY_200
    assert len(tiktok.bootstraps) == 1
    tiktok.mode = "ok"
    result = await svc.connect("1")
    assert isinstance(result, Connected)
    assert len(tiktok.bootstraps) == 2  # the refused identity was replaced, once


RETRYING = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0)


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("captcha", RefusalCode.CAPTCHA),
        ("garbled", RefusalCode.MALFORMED_PAYLOAD),
        ("forbidden", RefusalCode.FORBIDDEN_403),
    ],
)
async def test_refusals_are_not_retried(mode: str, code: RefusalCode) -> None:
    """Under a policy that retries (the control: a 5xx is tried three times), a refusal is tried once."""
    control = FakeTikTok(mode="5xx")
    assert isinstance(await service(control, retry=RETRYING).connect("1"), Refusal)
    assert len(control.fetches) == 3
    tiktok = FakeTikTok(mode=mode)
    refusal = await service(tiktok, retry=RETRYING).connect("1")
    assert isinstance(refusal, Refusal) and refusal.code is code
    assert len(tiktok.fetches) == 1


async def test_bootstrap_refusal_is_returned() -> None:
    refusal = await service(FakeTikTok(bootstrap_status=403)).connect("1")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.FORBIDDEN_403


@pytest.mark.parametrize(
    ("room_id", "cursor"),
    [
        ("", ""),
        ("abc", ""),
        ("-1", ""),
        ("0", ""),
        ("1" * 21, ""),
        ("9" * 20, ""),
        (str(2**63), ""),
        ("1 2", ""),
        ("1", "x" * 5000),
        ("1", "a b"),
    ],
)
async def test_bad_input_raises_before_touching_tiktok(room_id: str, cursor: str) -> None:
    tiktok = FakeTikTok()
    with pytest.raises(InvalidInput):
        await service(tiktok).connect(room_id, cursor=cursor)
    assert tiktok.requests == []


async def test_one_deadline_covers_bootstrap_and_fetch() -> None:
    import time

    tiktok = FakeTikTok(delay_s=0.3)  # each of the two round trips alone fits, together they do not
    started = time.monotonic()
    refusal = await service(tiktok, deadline_s=0.5).connect("1")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.TIMEOUT
    assert time.monotonic() - started < 0.8
    assert isinstance(await service(FakeTikTok(delay_s=0.1), deadline_s=0.5).connect("1"), Connected)


async def test_unique_id_is_resolved_with_the_same_identity() -> None:
    tiktok = FakeTikTok()
    result = await service(tiktok).connect(None, unique_id="@emu_streamer")
    assert isinstance(result, Connected), result
    assert result.room_id == "7390000000000000001"
    lookup = next(r for r in tiktok.requests if "/api-live/user/room/" in r.url)
    assert "uniqueId=emu_streamer" in lookup.url
    assert lookup.headers["Cookie"] == tiktok.fetches[0].headers["Cookie"]
    assert len(tiktok.bootstraps) == 1


async def test_room_id_wins_over_unique_id() -> None:
    tiktok = FakeTikTok()
    result = await service(tiktok).connect("5", unique_id="emu_streamer")
    assert isinstance(result, Connected) and result.room_id == "5"
    assert not any("/api-live/" in r.url for r in tiktok.requests)


async def test_unknown_unique_id() -> None:
    refusal = await service(FakeTikTok()).connect("0", unique_id="nobody")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.ROOM_NOT_FOUND


@pytest.mark.parametrize("unique_id", ["bad id", "a/b", "", "x" * 65])
async def test_bad_unique_id(unique_id: str) -> None:
    tiktok = FakeTikTok()
    with pytest.raises(InvalidInput):
        await service(tiktok).connect(None, unique_id=unique_id)
    assert tiktok.requests == []


# --- strategies ---------------------------------------------------------------------------------------------

from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult  # noqa: E402
from ttsign.signing.signer import SignJob, sign_job  # noqa: E402
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy  # noqa: E402
from ttsign.upstream.identity import ConnectBudget  # noqa: E402
from ttsign.upstream.signer import NOTHING, InProcessSigner, Signed  # noqa: E402
from ttsign.upstream.socket import DirectSocket, SocketAddress  # noqa: E402
from ttsign.upstream.transport import UpstreamRequest, UpstreamResponse  # noqa: E402

ROOM = "7390000000000000001"


class SilentRoomInfo(FakeTikTok):
    """room/info answers TikTok's silent empty 200; everything else as FakeTikTok."""

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        if "/webcast/room/info/" in request.url:
            self.requests.append(request)
            return UpstreamResponse(200, (), b"")
        return await super().send(request)


def strategic(tiktok: FakeTikTok, strategies: tuple[str, ...], **kwargs: object) -> ConnectService:
    rng = random.Random(9)

    async def factory(profile: object, name: str | None = None) -> object:
        return await bootstrap_identity(tiktok, BASE, profile, name, rng=rng)  # type: ignore[arg-type]

    signer = kwargs.pop("signer", InProcessSigner())
    socket = DirectSocket("ws://127.0.0.1:1", signer=signer, rng=rng)  # type: ignore[arg-type]
    return ConnectService(
        IdentityPool(factory),  # type: ignore[arg-type]
        WebcastClient(tiktok, webcast_base=BASE, rng=rng),
        rooms=RoomDirectory(tiktok, www_base=BASE),
        strategies=strategies,
        socket=socket,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_direct_answers_a_synthesized_result_without_im_fetch() -> None:
    tiktok = FakeTikTok()
    result = await strategic(tiktok, ("direct", "fetch")).connect(ROOM, user_agent=FIREFOX_UA, request_id="r")
    assert isinstance(result, Connected) and result.strategy == "direct"
    assert tiktok.fetches == []
    assert result.user_agent == FIREFOX_UA and result.ttwid.startswith("1%7Cttwid-")
    fetched = ProtoMessageFetchResult.FromString(result.payload)
    assert fetched.push_server.startswith("ws://127.0.0.1:1/") and fetched.cursor == "0"
    assert fetched.route_params["room_id"] == ROOM


async def test_direct_refused_falls_through_to_fetch() -> None:
    tiktok = SilentRoomInfo()
    outcomes: list[tuple[str, str]] = []
    svc = strategic(tiktok, ("direct", "fetch"), on_outcome=lambda s, o: outcomes.append((s, o)))
    result = await svc.connect(ROOM)
    assert isinstance(result, Connected) and result.strategy == "fetch"
    assert outcomes == [("direct", "empty_200"), ("fetch", "served")]
    assert len(tiktok.bootstraps) == 2  # the identity TikTok refused was retired: fetch went with a fresh one


async def test_fetch_refused_falls_through_to_direct() -> None:
    tiktok = FakeTikTok(mode="empty")
    result = await strategic(tiktok, ("fetch", "direct")).connect(ROOM)
    assert isinstance(result, Connected) and result.strategy == "direct"
    assert len(tiktok.fetches) == 1


async def test_every_strategy_refused_is_one_typed_refusal_naming_each() -> None:
    result = await strategic(SilentRoomInfo(mode="forbidden"), ("direct", "fetch")).connect(ROOM)
    assert isinstance(result, Refusal) and result.code is RefusalCode.FORBIDDEN_403
    assert "direct: empty_200" in result.detail and "fetch: forbidden_403" in result.detail


async def test_a_room_state_does_not_fall_through() -> None:
    tiktok = FakeTikTok(mode="not_live")
    result = await strategic(tiktok, ("direct", "fetch")).connect(ROOM)
    assert isinstance(result, Refusal) and result.code is RefusalCode.ROOM_NOT_LIVE
    assert tiktok.fetches == []


async def test_a_spent_identity_is_rotated() -> None:
    tiktok = FakeTikTok()
    svc = strategic(tiktok, ("direct",), budget=ConnectBudget(per_hour=2))
    ttwids = []
    for _ in range(3):
        result = await svc.connect(ROOM)
        assert isinstance(result, Connected)
        ttwids.append(result.ttwid)
    assert ttwids[0] == ttwids[1] != ttwids[2]
    assert len(tiktok.bootstraps) == 2


async def test_a_strategy_that_keeps_being_refused_is_skipped_for_its_cooldown() -> None:
    tiktok = FakeTikTok(mode="empty")
    board = BreakerBoard("strategy", BreakerPolicy(failure_threshold=2, cooldown_s=60))
    svc = strategic(tiktok, ("fetch", "direct"), strategy_breakers=board)
    for _ in range(3):
        result = await svc.connect(ROOM)
        assert isinstance(result, Connected) and result.strategy == "direct"
    assert len(tiktok.fetches) == 2  # the third connect went straight to direct


class BlockingFirst:
    """A socket probe: DEVICE_BLOCKED for the first identity it sees, accepted for any other."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def check(self, address: object, identity: object) -> Refusal | None:
        self.seen.append(identity.key)  # type: ignore[attr-defined]
        if identity.key == self.seen[0]:  # type: ignore[attr-defined]
            return Refusal(RefusalCode.DEVICE_BLOCKED, "on the push socket", 415)
        return None


async def test_a_device_blocked_socket_retires_the_identity_and_a_fresh_one_serves() -> None:
    tiktok, probe = FakeTikTok(), BlockingFirst()
    budget = ConnectBudget(per_hour=4)
    svc = strategic(tiktok, ("direct",), probe=probe, budget=budget)
    result = await svc.connect(ROOM)
    assert isinstance(result, Connected) and result.strategy == "direct"
    assert len(probe.seen) == 2 and probe.seen[0] != probe.seen[1]
    assert len(tiktok.bootstraps) == 2
    second = await svc.connect(ROOM)  # the blocked identity stays retired: the fresh one serves on
    assert isinstance(second, Connected) and second.ttwid == result.ttwid
    assert probe.seen[2] == probe.seen[1]


class TwoBackends:
    """A RequestSigner with backends "outdated" and "current" (both native underneath); remembers blame."""

    backends = ("outdated", "current")

    def __init__(self) -> None:
        self.blamed: list[str] = []

    async def sign(self, job: SignJob, rng: random.Random, *, besides: frozenset[str] = NOTHING) -> Signed | Refusal:
        for backend in self.backends:
            if backend not in besides:
                return Signed(sign_job(job, rng), backend)
        return Refusal(RefusalCode.SIGNER_UNAVAILABLE, "every backend was refused")

    def signature_refused(self, backend: str) -> None:
        self.blamed.append(backend)


class RefusingSignatures:
    """A socket probe that refuses, as TikTok refuses a bad signature, the addresses these backends signed."""

    def __init__(self, *refused: str) -> None:
        self.refused = refused
        self.seen: list[str] = []

    async def check(self, address: SocketAddress, identity: object) -> Refusal | None:
        self.seen.append(address.backend)
        if address.backend in self.refused:
            return Refusal(RefusalCode.EMPTY_200, "push socket answered 200 instead of switching", 200)
        return None


async def test_a_socket_signature_the_probe_sees_refused_is_signed_again_by_the_next_backend() -> None:
    signer, probe = TwoBackends(), RefusingSignatures("outdated")
    budget = ConnectBudget(per_hour=10)
    svc = strategic(FakeTikTok(), ("direct",), probe=probe, budget=budget, signer=signer)
    result = await svc.connect(ROOM)
    assert isinstance(result, Connected) and result.strategy == "direct"
    assert probe.seen == ["outdated", "current"]
    assert signer.blamed == ["outdated"]  # the next backend's socket was accepted
    again = await svc.connect(ROOM)  # the accepted address is the one handed out from now on
    assert isinstance(again, Connected) and probe.seen[-1] == "current"


async def test_every_backends_socket_signature_refused_is_the_refusal_and_blames_none() -> None:
    signer, probe = TwoBackends(), RefusingSignatures("outdated", "current")
    svc = strategic(FakeTikTok(), ("direct",), probe=probe, budget=ConnectBudget(per_hour=10), signer=signer)
    result = await svc.connect(ROOM)
    assert isinstance(result, Refusal) and result.code is RefusalCode.EMPTY_200
    assert probe.seen == ["outdated", "current"] and signer.blamed == []


async def test_no_connect_left_for_another_probe_keeps_tiktoks_refusal() -> None:
    signer, probe = TwoBackends(), RefusingSignatures("outdated")
    svc = strategic(FakeTikTok(), ("direct",), probe=probe, budget=ConnectBudget(per_hour=2), signer=signer)
    result = await svc.connect(ROOM)  # the probe and the client's socket spend both connects of the hour
    assert isinstance(result, Refusal) and result.code is RefusalCode.EMPTY_200
    assert probe.seen == ["outdated"] and signer.blamed == []


async def test_a_live_room_is_taken_as_live_for_a_few_seconds_a_refusal_is_not() -> None:
    tiktok = FakeTikTok()
    now = [100.0]
    svc = strategic(tiktok, ("direct",), clock=lambda: now[0])
    room_infos = lambda: [r for r in tiktok.requests if "/webcast/room/info/" in r.url]  # noqa: E731
    for _ in range(2):
        assert isinstance(await svc.connect(ROOM), Connected)
    assert len(room_infos()) == 1
    now[0] += 5.0
    tiktok.mode = "not_live"
    for _ in range(2):
        refused = await svc.connect(ROOM)
        assert isinstance(refused, Refusal) and refused.code is RefusalCode.ROOM_NOT_LIVE
    assert len(room_infos()) == 3


async def test_a_connect_by_unique_id_bootstraps_on_the_streamers_page_first() -> None:
    tiktok = FakeTikTok()
    result = await strategic(tiktok, ("direct",)).connect(None, unique_id="@emu_streamer")
    assert isinstance(result, Connected)
    assert [r.url.removeprefix(BASE) for r in tiktok.bootstraps] == ["/@emu_streamer"]
