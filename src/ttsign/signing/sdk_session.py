"""The per-page state of the vendor SDK that X-Gnarly exposes, and the payloads each version builds.

One SDK instance (one page load) fixes the field order, the init timestamp (field 8) and its request
counters; a server keeps one SdkSession per upstream identity, as a browser tab would.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ttsign.signing.digest import md5hex
from ttsign.signing.xgnarly import FieldValue

PAYLOAD_VERSION = "5.1.3"
SDK_BUILD = "1.0.0.328"
FIELD_COUNT = 16
_INT_FIELDS_5_1_3 = (1, 2, 6, 7, 8, 11, 12, 13, 14, 15)
_KEYS_5_1_0 = frozenset(range(10))
_KEYS_5_1_1 = frozenset(range(13))


@dataclass(frozen=True)
class Environment:
    envcode: int
    ubcode: int
    canvas: int


@dataclass(frozen=True)
class SdkSession:
    field_order: tuple[int, ...]
    init_stamp: int  # field 8: microsecond time of SDK initialisation, mod 2^31
    total_requests: int = 0  # XHR + fetch requests the page has made
    intercepted_requests: int = 0

    @classmethod
    def start(cls, rng: random.Random, now_ms: int, *, loaded_ms_ago: int = 60_000) -> SdkSession:
        """A fresh page: a shuffled field order and an init stamp from when the page loaded."""
        order = list(range(FIELD_COUNT))
        rng.shuffle(order)
        load_ms = now_ms - loaded_ms_ago
        return cls(tuple(order), (load_ms * 1000 + rng.randrange(1000)) % (1 << 31))

    def after_request(self) -> SdkSession:
        """The session once the page has sent one more signed request."""
        # The constructor rather than dataclasses.replace, which inspects the fields on every call.
        return SdkSession(self.field_order, self.init_stamp, self.total_requests + 1, self.intercepted_requests)


@dataclass(frozen=True)
class RequestDigest:
    """The request-bound text fields: MD5s of the signed query, the body and the UA."""

    query_md5: str
    body_md5: str
    ua_md5: str

    @classmethod
    def of(cls, query: str, body: str, user_agent: str) -> RequestDigest:
        return cls(
            md5hex(query), _md5_of_repeated(body) if len(body) <= 256 else md5hex(body), _md5_of_repeated(user_agent)
        )


@lru_cache(maxsize=256)
def _md5_of_repeated(text: str) -> str:
    """MD5 of a value that repeats from request to request (a profile's User-Agent, the usual empty body)."""
    return md5hex(text)


def fields_5_1_3(
    digest: RequestDigest,
    env: Environment,
    session: SdkSession,
    *,
    now_ms: int,
    rand16: int,
    rand32: int,
    requests_total: int,
    requests_intercepted: int,
    payload_version: str = PAYLOAD_VERSION,
    sdk_build: str = SDK_BUILD,
    init_stamp: int | None = None,
) -> dict[int, FieldValue]:
    """The 5.1.3 payload (also 5.1.3-ZTCA, which differs in version strings and how it is written)."""
    fields: dict[int, FieldValue] = {
        1: env.envcode,
        2: env.ubcode,
        3: digest.query_md5,
        4: digest.body_md5,
        5: digest.ua_md5,
        6: now_ms // 1000,
        7: env.canvas,
        8: session.init_stamp if init_stamp is None else init_stamp,
        9: payload_version,
        10: sdk_build,
        11: 1,
        12: requests_total,
        13: requests_intercepted,
        14: (env.envcode << 16) | (rand16 & 0xFFFF),
        15: rand32 & 0xFFFFFFFF,
    }
    fields[0] = xor_of(fields, _INT_FIELDS_5_1_3)
    return fields


def fields_5_1_0(
    digest: RequestDigest,
    env: Environment,
    *,
    now_ms: int,
    payload_version: str = "5.1.0",
    init_stamp: int | None = None,
) -> dict[int, FieldValue]:
    """The public 5.1.0 tool's payload: keys 0..9, field 8 from the current time."""
    fields: dict[int, FieldValue] = {
        1: env.envcode,
        2: env.ubcode,
        3: digest.query_md5,
        4: digest.body_md5,
        5: digest.ua_md5,
        6: now_ms // 1000,
        7: env.canvas,
        8: (now_ms * 1000) % (1 << 31) if init_stamp is None else init_stamp,
        9: payload_version,
    }
    fields[0] = xor_of(fields, (1, 2, 6, 7, 8))
    return dict(sorted(fields.items()))


def fields_5_1_1(
    digest: RequestDigest,
    env: Environment,
    *,
    now_ms: int,
    payload_version: str = "5.1.1",
    sdk_build: str = "1.0.0.314",
    init_stamp: int | None = None,
) -> dict[int, FieldValue]:
    """5.1.1: 5.1.0 plus the SDK build, a constant 1, and a key-12 XOR over keys 1..11."""
    fields = fields_5_1_0(digest, env, now_ms=now_ms, init_stamp=init_stamp)
    fields.update({9: payload_version, 10: sdk_build, 11: 1})
    fields[12] = xor_of(fields, range(1, 12), strings_as_words=True)
    fields[0] = xor_of(fields, (k for k, v in fields.items() if k != 0 and isinstance(v, int)))
    return dict(sorted(fields.items()))


def xor_of(fields: dict[int, FieldValue], keys: Iterable[int], *, strings_as_words: bool = False) -> int:
    """XOR of the named fields; with `strings_as_words` a string counts as the BE uint32 of its first 4 bytes."""
    total = 0
    for key in keys:
        value = fields[key]
        if isinstance(value, str):
            if not strings_as_words:
                continue
            value = int.from_bytes(value.encode("utf-8")[:4].ljust(4, b"\0"), "big")
        total ^= value
    return total & 0xFFFFFFFF


def checksum_holds(fields: dict[int, FieldValue]) -> bool:
    """Field 0 (and 12 in 5.1.1) must be the XOR its payload version defines."""
    version = fields.get(9)
    claimed = fields.get(0)
    keys = fields.keys()
    # The layout shows in the version string, or (for an environment's own version string) in the key set.
    if version == "5.1.0" or keys == _KEYS_5_1_0:
        return claimed == xor_of(fields, (k for k in (1, 2, 6, 7, 8) if k in fields))
    if version == "5.1.1" or keys == _KEYS_5_1_1:
        if fields.get(12) != xor_of(fields, (k for k in range(1, 12) if k in fields), strings_as_words=True):
            return False
        return claimed == xor_of(fields, (k for k, v in fields.items() if k != 0 and isinstance(v, int)))
    return claimed == xor_of(fields, (k for k in _INT_FIELDS_5_1_3 if k in fields))
