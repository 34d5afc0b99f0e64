"""Who the client is (issue 12, item 4), against a real `ttsign serve`: X-Forwarded-For is ignored unless the
connecting peer is one of `TTSIGN_TRUSTED_PROXIES`. The attack: a caller names a fresh address on every
request to get a fresh anonymous rate-limit bucket each time. Seen through the limits themselves: with
3 anonymous requests a minute, the 4th request of one real client is refused whatever it forwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager

import httpx
import pytest

from tests.e2e.harness import EmulatorHandle, start_emulator
from tests.security.live_server import SIGN_BODY, LiveServer, live_server
from ttsign.config import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PER_MINUTE = 3
PROXY = "127.0.0.2"  # a second loopback address stands for the reverse proxy's


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(None, strict=True, tls=False)
    yield handle
    handle.proc.stop()


def limited(emulator: EmulatorHandle, tmp: pytest.TempPathFactory, **env: str) -> AbstractContextManager[LiveServer]:
    return live_server(emulator, tmp.mktemp("forwarded"), TTSIGN_ANONYMOUS_PER_MINUTE=str(PER_MINUTE), **env)


def statuses(server: LiveServer, source: str, forwarded_for: list[str]) -> list[int]:
    """One anonymous sign_url per X-Forwarded-For value, from the local address `source`."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=5) as http:
        return [
            http.post(f"{server.url}/webcast/sign_url", json=SIGN_BODY, headers={"X-Forwarded-For": value}).status_code
            for value in forwarded_for
        ]


def fresh_addresses(prefix: str) -> list[str]:
    return [f"{prefix}.{n}" for n in range(1, PER_MINUTE + 2)]


def test_by_default_no_peer_is_believed_not_even_loopback(
    emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with limited(emulator, tmp_path_factory) as server:
        answers = statuses(server, "127.0.0.1", fresh_addresses("198.51.100"))
        assert answers[:PER_MINUTE] == [200] * PER_MINUTE
        assert answers[PER_MINUTE] == 429, "a caller chose its own rate-limit bucket through X-Forwarded-For"


def test_only_a_trusted_proxy_names_the_client(
    emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with limited(emulator, tmp_path_factory, TTSIGN_TRUSTED_PROXIES=f"{PROXY}/32") as server:
        # Through the proxy: each forwarded client has its own bucket, so none of them is refused...
        assert statuses(server, PROXY, fresh_addresses("198.51.100")) == [200] * (PER_MINUTE + 1)
        # ...and one forwarded client is limited as itself, whatever it puts in front of the proxy's entry:
        # the proxy appends the real address, and the rightmost one not a trusted proxy is the client.
        chain = [f"203.0.113.{n}, 192.0.2.50" for n in range(1, PER_MINUTE + 2)]
        assert statuses(server, PROXY, chain)[PER_MINUTE] == 429
        # A peer that is not a trusted proxy (here 127.0.0.1, loopback or not) is its own client.
        direct = statuses(server, "127.0.0.1", fresh_addresses("192.0.2"))
        assert direct[:PER_MINUTE] == [200] * PER_MINUTE
        assert direct[PER_MINUTE] == 429


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", ()),
        ("127.0.0.1", ("127.0.0.1",)),
        (" 127.0.0.1 , 10.0.0.0/8,::1", ("127.0.0.1", "10.0.0.0/8", "::1")),
        ('["192.0.2.0/24"]', ("192.0.2.0/24",)),
    ],
)
def test_trusted_proxies_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, parsed: tuple[str, ...]
) -> None:
    monkeypatch.setenv("TTSIGN_TRUSTED_PROXIES", raw)
    assert Settings().trusted_proxies == parsed


@pytest.mark.parametrize("raw", ["*", "localhost", "10.0.0.0/33"])
def test_a_trusted_proxy_must_be_an_address_or_range(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("TTSIGN_TRUSTED_PROXIES", raw)
    with pytest.raises(ValueError, match="not an IP address or CIDR range"):
        Settings()
