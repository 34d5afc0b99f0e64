"""Which upstream failures count against a room and which against an identity, and the fast refusal.

A room's breaker counts what points at the room or at TikTok's side of it (timeouts, 5xx, connection
failures, unusable payloads). An identity's breaker counts what points at the identity (empty 200, 403,
captcha, DEVICE_BLOCKED, a failing cookie page): TikTok refusing identity after identity of one browser
profile means the egress IP is flagged, and minting more only digs deeper. A room's state ("not live",
"not found") is TikTok answering correctly, so it counts as a success for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ttsign.signing import BrowserProfile
from ttsign.store.base import slot_digest
from ttsign.upstream.breaker import BreakerBoard
from ttsign.upstream.identity import identity_slot
from ttsign.upstream.refusals import Refusal, RefusalCode

_ROOM_STATES = frozenset({RefusalCode.ROOM_NOT_LIVE, RefusalCode.ROOM_NOT_FOUND})


def identity_key(profile: BrowserProfile) -> str:
    """The identity slot a profile uses (one identity per profile and User-Agent), as a short digest.

    A digest because breaker keys travel between replicas and the User-Agent is the client's; it is the
    same digest the shared identity store files the slot under.
    """
    return slot_digest(identity_slot(profile))


@dataclass(frozen=True)
class ConnectBreakers:
    rooms: BreakerBoard
    identities: BreakerBoard

    def check(self, room_label: str, profile: BrowserProfile) -> Refusal | None:
        """A `circuit_open` refusal when either breaker is open, else None (go ahead)."""
        wait = self.rooms.check(room_label)
        if wait is not None:
            return _open(f"room {room_label}", wait)
        wait = self.identities.check(identity_key(profile))
        if wait is not None:
            return _open(f"identity for profile {profile.name}", wait)
        return None

    def record(self, room_label: str, profile: BrowserProfile, outcome: Refusal | None, *, bootstrap: bool) -> None:
        """Account one finished connect: `outcome` None is a success; `bootstrap` says the identity never came."""
        identity = identity_key(profile)
        if outcome is None or outcome.code in _ROOM_STATES:
            self.rooms.record_success(room_label)
            self.identities.record_success(identity)
            return
        if outcome.code is RefusalCode.CIRCUIT_OPEN:
            return
        if bootstrap or outcome.retires_identity:
            self.identities.record_failure(identity)
        else:
            self.rooms.record_failure(room_label)


def _open(what: str, wait_s: float) -> Refusal:
    return Refusal(
        RefusalCode.CIRCUIT_OPEN,
        f"{what}: repeated failures, calls paused for {math.ceil(wait_s)} s",
        retry_after_s=wait_s,
    )
