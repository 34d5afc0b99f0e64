"""The live picture: rates and percentiles from the app's metrics, and what the server is serving with."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from tests.admin.conftest import Console
from tests.upstream.fake_tiktok import STREAMER_ROOM
from ttsign.metrics import Metrics
from ttsign.service.live_picture import LivePicture, quantile
from ttsign.service.serving_state import serving_state
from ttsign.store.base import Limits
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy
from ttsign.upstream.identity import ConnectBudget


def test_quantiles_interpolate_within_their_bucket() -> None:
    buckets = {0.01: 50.0, 0.1: 100.0, float("inf"): 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.01)
    assert quantile(0.99, buckets) == pytest.approx(0.01 + 0.09 * 49 / 50)
    assert quantile(0.25, buckets) == pytest.approx(0.005)
    assert quantile(0.99, {0.01: 0.0, float("inf"): 10.0}) == 0.01  # beyond the last finite bound: that bound
    assert quantile(0.5, {}) is None and quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None


def test_rates_come_from_two_readings_and_refusals_count_the_window() -> None:
    metrics = Metrics()
    now = [100.0]
    live = LivePicture(metrics, clock=lambda: now[0])
    metrics.requests.labels("/webcast/fetch", "GET", "ttlive-python", "200").inc(4)
    metrics.upstream_refusals.labels("device_blocked").inc(2)
    first = live.numbers()
    assert first.requests_per_s is None and first.window_s == 0.0
    assert first.requests_total == {"ttlive-python": 4}
    assert first.refusals == {"device_blocked": 2}  # no window yet: since start
    now[0] += 2.0
    metrics.requests.labels("/webcast/fetch", "GET", "ttlive-python", "200").inc(10)
    metrics.requests.labels("/webcast/sign_url", "POST", "euler", "429").inc(1)
    metrics.requests.labels("/admin/api/live", "GET", "other", "200").inc(50)  # the console itself: not shown
    metrics.request_seconds.labels("/admin/api/live", "other").observe(3.0)
    metrics.rate_limited.labels("minute").inc()
    for seconds in (0.002,) * 9 + (0.4,):
        metrics.request_seconds.labels("/webcast/fetch", "ttlive-python").observe(seconds)
    second = live.numbers()
    assert second.requests_per_s == {"ttlive-python": 5.0, "euler": 0.5}
    assert second.window_s == 2.0
    assert second.refusals == {"rate_limited:minute": 1}  # device_blocked happened before the window
    assert second.latency_scope == "window"
    assert second.p50_ms is not None and 1.0 <= second.p50_ms <= 2.5
    assert second.p99_ms is not None and 250.0 <= second.p99_ms <= 500.0


def test_readings_older_than_the_window_are_dropped() -> None:
    metrics = Metrics()
    now = [0.0]
    live = LivePicture(metrics, window_s=10.0, clock=lambda: now[0])
    live.numbers()
    metrics.requests.labels("/x", "GET", "d", "200").inc(100)
    now[0] = 5.0
    live.numbers()
    metrics.requests.labels("/x", "GET", "d", "200").inc(10)
    now[0] = 15.0  # the reading at 0 is gone: the rate is over 5..15
    assert live.numbers().requests_per_s == {"d": 1.0}


async def test_serving_state_shows_signers_relay_and_breakers_when_present() -> None:
    signer_board = BreakerBoard("signer_backend", BreakerPolicy(failure_threshold=1))
    signer_board.record_failure("remote")
    signers = SimpleNamespace(names=("native", "remote"), breakers=signer_board)
    consumers = [SimpleNamespace(label="key:ab12cd34"), SimpleNamespace(label="anon:203.0.113.9")]
    relay = SimpleNamespace(rooms={"streamer": SimpleNamespace(consumers=consumers)})
    connect = SimpleNamespace(strategies=(SimpleNamespace(name="direct"),), strategy_breakers=None, breakers=None)
    pool = SimpleNamespace(warm_identities=list)
    drift = SimpleNamespace(last_result=lambda: {"status": "drift", "checked_at": 1.0})
    state = await serving_state(
        connect,  # type: ignore[arg-type]
        pool,  # type: ignore[arg-type]
        pool_size=4,
        budget=None,
        signers=signers,
        relay=relay,
        drift_check=drift,
    )
    assert [(s.name, s.breaker) for s in state.strategies] == [("direct", "none")]
    assert [(s.name, s.breaker) for s in state.signers] == [("native", "closed"), ("remote", "open")]
    assert state.breakers_open == {"signer_backend": 1}
    assert state.relay_rooms is not None and len(state.relay_rooms) == 1
    room = state.relay_rooms[0]
    assert (room.unique_id, room.consumers) == ("streamer", 2)
    assert "key:ab12cd34" in room.callers and not any("203.0.113.9" in c for c in room.callers)
    assert state.drift_check == {"status": "drift", "checked_at": 1.0}


async def test_an_identitys_budget_left_is_read_without_spending_it() -> None:
    budget = ConnectBudget(5)
    identity = SimpleNamespace(key="id-1")
    assert await budget.remaining(identity) == 5  # type: ignore[arg-type]
    for _ in range(2):
        assert await budget.spend(identity)  # type: ignore[arg-type]
    assert await budget.remaining(identity) == 3  # type: ignore[arg-type]
    assert await budget.remaining(identity) == 3  # type: ignore[arg-type]
    connect = SimpleNamespace(strategies=(), strategy_breakers=None, breakers=None)
    aged = SimpleNamespace(key="id-1", profile=SimpleNamespace(name="chrome131-windows"), uses=4)
    pool = SimpleNamespace(warm_identities=lambda: [(aged, 12.34)])
    state = await serving_state(connect, pool, pool_size=2, budget=budget)  # type: ignore[arg-type]
    assert [(i.key, i.profile, i.age_s, i.uses, i.budget_left) for i in state.identities] == [
        ("id-1", "chrome131-windows", 12.3, 4, 3)
    ]
    assert state.budget_per_hour == 5 and state.relay_rooms is None and state.drift_check == {"status": "not run"}


async def test_the_live_route_shows_this_servers_picture(logged_in: Console) -> None:
    first = (await logged_in.http.get("/admin/api/live")).json()
    assert first["numbers"]["requests_per_s"] is None
    serving = first["serving"]
    assert [(s["name"], s["breaker"]) for s in serving["strategies"]] == [("fetch", "closed")]
    settings = logged_in.app.state.services.settings
    assert [s["name"] for s in serving["signers"]] == list(getattr(settings, "signer_backends", ()))
    assert all(s["breaker"] == "closed" for s in serving["signers"])
    assert serving["identities"] == []
    assert serving["relay_rooms"] == []  # the relay runs, no room yet
    assert serving["drift_check"] == {"status": "not run"}
    assert {"room", "identity"} <= set(serving["breakers_open"])
    connected = await logged_in.http.get("/webcast/fetch", params={"room_id": STREAMER_ROOM})
    assert connected.status_code == 200, connected.text
    await asyncio.sleep(0.6)  # a rate needs two readings at least half a second apart
    second = (await logged_in.http.get("/admin/api/live")).json()
    rates = second["numbers"]["requests_per_s"]
    assert rates is not None and sum(rates.values()) > 0
    identities = second["serving"]["identities"]
    assert len(identities) == 1 and identities[0]["uses"] >= 1 and identities[0]["budget_left"] is None
    assert second["numbers"]["p50_ms"] is not None


async def test_the_live_route_adds_up_every_callers_refusals_today(logged_in: Console) -> None:
    services = logged_in.app.state.services
    _, plaintext = await services.keys.create("tight", Limits(per_minute=1))
    params = {"room_id": STREAMER_ROOM}
    refused: list[str] = []
    for headers in ({"X-Api-Key": plaintext}, {"X-Api-Key": plaintext}, {"X-Api-Key": "tts_" + "x" * 40}):
        answer = await logged_in.http.get("/webcast/fetch", params=params, headers=headers)
        if answer.status_code >= 400:
            refused.append(answer.headers["x-log-code"])
    assert len(refused) == 2 and len(set(refused)) == 2  # over the limit, and a key that does not exist
    live = (await logged_in.http.get("/admin/api/live")).json()
    assert live["refused_today"] == {reason: 1 for reason in refused}
