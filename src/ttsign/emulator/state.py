"""The one mutable object behind the emulator app: scenario, log, issued cookies, sessions, fault counters."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ttsign.emulator.cookies import CookieIssuer
from ttsign.emulator.era import DEFAULT_ERA, ConnectCounter, Era, MintSchedule
from ttsign.emulator.faults import RouteKey
from ttsign.emulator.log import EventLog
from ttsign.emulator.scenario import Scenario, Step

if TYPE_CHECKING:
    from ttsign.emulator.push import PushSession
    from ttsign.emulator.vendor_verify import VendorReference

WS_PATH = "/webcast/im/ws_proxy/ws_reuse_supplement/"


@dataclass
class Emulator:
    scenario: Scenario
    strict: bool = True
    era: Era = DEFAULT_ERA
    log: EventLog = field(default_factory=EventLog)
    cookies: CookieIssuer = field(default_factory=CookieIssuer)
    plain_url: str = "http://127.0.0.1:0"
    tls_url: str | None = None
    sessions: set[PushSession] = field(default_factory=set)
    # Entries pushed with /__emu/push while no session was in the room; delivered to the next one that enters.
    pending: list[Step] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    fetch_count: int = 0
    # (client host, client port) -> transport, filled by the runner's HTTP protocol, so a fault can reset it.
    transports: dict[tuple[str, int], asyncio.Transport] = field(default_factory=dict)
    # Set when shutting down, so injected hangs end at once instead of holding the shutdown.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    mints: MintSchedule = field(default_factory=lambda: MintSchedule(1.0))
    socket_connects: ConnectCounter = field(default_factory=ConnectCounter)
    # --verify-with vendor-script: strict checks also compare with TikTok's own SDK (None: native only).
    vendor: VendorReference | None = None

    @property
    def since_2026_09(self) -> bool:
        return self.era == "2026-09"

    def mints_ttwid(self) -> bool:
        """Whether this cookie-page request mints a ttwid: always before 2026-09, a fraction since."""
        if not self.since_2026_09:
            return True
        self.mints.fraction = self.scenario.era_2026_09.ttwid_mint_fraction
        return self.mints.next_mints()

    @property
    def push_server(self) -> str:
        """ws:// URL of the push channel on the plain listener, with no '?' (clients append their own)."""
        return "ws://" + self.plain_url.split("://", 1)[1] + WS_PATH

    def hit(self, route: RouteKey) -> int:
        self.hits[route] += 1
        return self.hits[route]

    def replace_scenario(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.hits.clear()
        self.pending.clear()

    def abort_client(self, client: tuple[str, int] | None) -> bool:
        """Reset the client's TCP connection (RST, via SO_LINGER 0); False when it is not known."""
        transport = self.transports.get(client) if client else None
        if transport is None or transport.is_closing():
            return False
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        return True
