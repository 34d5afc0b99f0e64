"""Signer environments: every signing constant that does not come from the request, as one frozen value.

TikTok's web SDK changes without notice (payload 5.1.0 -> 5.1.3 -> 5.1.3-ZTCA -> 5.3.x), so the version
strings, the environment bytes, the X-Gnarly field order and width rules, the round count, which
signatures each endpoint gets and the browser profiles are data here, and an operator can describe a
new environment in a TOML file (ttsign.signers.environments) without a ttsign release. Pure: no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType

from ttsign.signing import xgnarly
from ttsign.signing.profile import (
    DEFAULT_PROFILE_NAME,
    DEFAULT_USER_AGENTS,
    BrowserProfile,
    ProfileError,
    profile_from_user_agent,
)
from ttsign.signing.sdk_session import (
    Environment,
    RequestDigest,
    SdkSession,
    fields_5_1_0,
    fields_5_1_1,
    fields_5_1_3,
)

FULL_FIELD_ORDER = tuple(range(16))
SIGNATURES = frozenset({"msToken", "X-Bogus", "X-Gnarly", "_signature"})
DEFAULT_SIGNATURES = frozenset({"msToken", "X-Bogus", "X-Gnarly"})
ALL_ENDPOINTS = "*"


class PayloadLayout(StrEnum):
    """Which fields an X-Gnarly payload carries and how its checksums are made (signatures.md §2)."""

    V5_1_3 = "5.1.3"  # 16 fields, counters and random words; also 5.1.3-ZTCA
    V5_1_0 = "5.1.0"  # keys 0..9
    V5_1_1 = "5.1.1"  # keys 0..12, with a string-aware XOR in key 12


class FieldOrderPolicy(StrEnum):
    SHUFFLED = "shuffled"  # shuffled once per page load (the vendor SDK)
    FIXED = "fixed"  # the same order for every call (older tools, 5.1.3-ZTCA)


class IntWidthPolicy(StrEnum):
    MINIMAL = "minimal"  # 2 bytes below the short-integer limit, else 4
    FIXED = "fixed"  # a width per field, whatever the value


class InitStampPolicy(StrEnum):
    """Where X-Gnarly field 8 comes from."""

    PAGE_LOAD_US = "page_load_us"  # microsecond time the SDK started, kept for the page (vendor SDK)
    CLOCK_US = "clock_us"  # (now_ms * 1000) mod 2^31 on every call (the 5.1.0 and 5.1.1 tools)
    CLOCK_MS = "clock_ms"  # now_ms mod 2^31 on every call (5.1.3-ZTCA)


@dataclass(frozen=True)
class EndpointSignatures:
    """The signatures requests to paths starting with `path_prefix` carry (`*` matches every path)."""

    path_prefix: str
    signatures: frozenset[str]


@dataclass(frozen=True)
class BrowserValues:
    """The environment bytes both signatures carry; None keeps the browser profile's own value."""

    envcode: int | None = None
    ubcode: int | None = None
    canvas: int | None = None


@dataclass(frozen=True)
class SignerEnvironment:
    name: str
    description: str
    payload_layout: PayloadLayout
    payload_version: str  # X-Gnarly field 9
    sdk_build: str  # X-Gnarly field 10 (5.1.1 and 5.1.3 layouts); the webmssdk build being imitated
    x_bogus_sdk: str  # the webmssdk build whose X-Bogus this environment imitates (not in the token)
    browser_values: BrowserValues
    field_order: FieldOrderPolicy
    fixed_field_order: tuple[int, ...]  # used when field_order is fixed (extra keys are ignored)
    int_width: IntWidthPolicy
    short_int_limit: int  # minimal widths: 65536 in the SDK, 65025 in the older tools
    fixed_int_widths: tuple[tuple[int, int], ...]  # (field, 2|4) when int_width is fixed
    chacha_rounds: int  # 0: the key decides (every known SDK); else a fixed count
    init_stamp: InitStampPolicy
    endpoint_signatures: tuple[EndpointSignatures, ...]
    profiles: tuple[tuple[str, str], ...]  # (profile name, User-Agent)
    default_profile: str = DEFAULT_PROFILE_NAME

    def __post_init__(self) -> None:
        if self.default_profile not in dict(self.profiles):
            raise ValueError(f"default_profile {self.default_profile!r} is not one of the environment's profiles")
        unknown = {s for e in self.endpoint_signatures for s in e.signatures} - SIGNATURES
        if unknown:
            raise ValueError(f"unknown signatures {sorted(unknown)}; known: {sorted(SIGNATURES)}")

    @cached_property
    def payload_format(self) -> xgnarly.PayloadFormat:
        widths = self.fixed_int_widths if self.int_width is IntWidthPolicy.FIXED else ()
        return xgnarly.PayloadFormat(self.payload_version, self.short_int_limit, widths, self.chacha_rounds)

    @cached_property
    def field_keys(self) -> tuple[int, ...]:
        """The payload's keys in ascending order."""
        return {
            PayloadLayout.V5_1_3: FULL_FIELD_ORDER,
            PayloadLayout.V5_1_0: tuple(range(10)),
            PayloadLayout.V5_1_1: tuple(range(13)),
        }[self.payload_layout]

    @cached_property
    def fixed_order(self) -> tuple[int, ...]:
        """The fixed field order restricted to this layout's keys, any key it leaves out appended in order."""
        keys = self.field_keys
        named = tuple(k for k in self.fixed_field_order if k in keys)
        return named + tuple(k for k in keys if k not in named)

    def page_field_order(self, rng: random.Random) -> tuple[int, ...]:
        """The field order of a new page: shuffled per page load, or the environment's fixed order."""
        if self.field_order is FieldOrderPolicy.FIXED:
            return self.fixed_order
        order = list(self.field_keys)
        rng.shuffle(order)
        return tuple(order)

    @cached_property
    def _endpoint_table(self) -> tuple[EndpointSignatures, ...]:
        return tuple(sorted(self.endpoint_signatures, key=lambda e: -len(e.path_prefix)))

    @cached_property
    def uniform_signatures(self) -> frozenset[str] | None:
        """The signatures of every path when the table does not depend on the path (the usual case), else None."""
        if any(entry.path_prefix != ALL_ENDPOINTS for entry in self.endpoint_signatures):
            return None
        return self.signatures_for("/")

    @cached_property
    def fixed_policy(self) -> bool:
        return self.field_order is FieldOrderPolicy.FIXED

    def signatures_for(self, path: str) -> frozenset[str]:
        """The signatures a request to `path` gets: the longest matching prefix wins, `*` is the fallback."""
        fallback = DEFAULT_SIGNATURES
        for entry in self._endpoint_table:
            if entry.path_prefix == ALL_ENDPOINTS:
                fallback = entry.signatures
            elif path.startswith(entry.path_prefix):
                return entry.signatures
        return fallback

    def with_endpoint_signatures(self, overrides: Mapping[str, frozenset[str]]) -> SignerEnvironment:
        """This environment with `overrides` (path prefix -> signatures) replacing its table's entries for those
        prefixes and adding the others: how an operator's setting overrides the environment's table explicitly."""
        if not overrides:
            return self
        kept = tuple(entry for entry in self.endpoint_signatures if entry.path_prefix not in overrides)
        added = tuple(EndpointSignatures(prefix, frozenset(wanted)) for prefix, wanted in overrides.items())
        return replace(self, endpoint_signatures=kept + added)

    def start_session(self, rng: random.Random, now_ms: int) -> SdkSession:
        """A fresh page of this environment's SDK."""
        session = SdkSession.start(rng, now_ms)
        if self.field_order is FieldOrderPolicy.SHUFFLED and self.payload_layout is PayloadLayout.V5_1_3:
            return session  # the vendor shape: SdkSession.start's own shuffle, as before environments
        return SdkSession(self.page_field_order(rng), session.init_stamp)

    def payload(
        self,
        digest: RequestDigest,
        values: Environment,
        session: SdkSession,
        *,
        now_ms: int,
        rand16: int,
        rand32: int,
    ) -> dict[int, xgnarly.FieldValue]:
        """The X-Gnarly fields of one request signed in `session` (the page's next request)."""
        # On the hot path: attribute tests only (an enum lookup per call costs more than the payload's dict).
        stamp = self._init_stamp(session, now_ms) if self._stamp_from_clock else session.init_stamp
        if self._layout_5_1_3:
            return fields_5_1_3(
                digest,
                values,
                session,
                now_ms=now_ms,
                rand16=rand16,
                rand32=rand32,
                requests_total=session.total_requests + 1,
                requests_intercepted=session.intercepted_requests,
                payload_version=self.payload_version,
                sdk_build=self.sdk_build,
                init_stamp=stamp,
            )
        if self.payload_layout is PayloadLayout.V5_1_0:
            return fields_5_1_0(digest, values, now_ms=now_ms, payload_version=self.payload_version, init_stamp=stamp)
        return fields_5_1_1(
            digest,
            values,
            now_ms=now_ms,
            payload_version=self.payload_version,
            sdk_build=self.sdk_build,
            init_stamp=stamp,
        )

    @cached_property
    def _stamp_from_clock(self) -> bool:
        return self.init_stamp is not InitStampPolicy.PAGE_LOAD_US

    @cached_property
    def _layout_5_1_3(self) -> bool:
        return self.payload_layout is PayloadLayout.V5_1_3

    def _init_stamp(self, session: SdkSession, now_ms: int) -> int:
        if self.init_stamp is InitStampPolicy.CLOCK_US:
            return (now_ms * 1000) % (1 << 31)
        if self.init_stamp is InitStampPolicy.CLOCK_MS:
            return now_ms % (1 << 31)
        return session.init_stamp

    def profile(self, name: str | None = None) -> BrowserProfile:
        """A profile of this environment, with the environment's envcode/ubcode/canvas where it sets them."""
        key = name or self.default_profile
        user_agent = dict(self.profiles).get(key)
        if user_agent is None:
            known = ", ".join(n for n, _ in self.profiles)
            raise ProfileError(f"unknown profile {key!r}; known profiles: {known}")
        return self.apply(profile_from_user_agent(user_agent, name=key))

    def apply(self, profile: BrowserProfile) -> BrowserProfile:
        """`profile` with this environment's environment bytes where the environment sets them."""
        values = self.browser_values
        if values.envcode is None and values.ubcode is None and values.canvas is None:
            return profile
        return replace(
            profile,
            envcode=profile.envcode if values.envcode is None else values.envcode,
            ubcode=profile.ubcode if values.ubcode is None else values.ubcode,
            canvas=profile.canvas if values.canvas is None else values.canvas,
        )


_DEFAULT_PROFILES = tuple(DEFAULT_USER_AGENTS.items())
_EVERYWHERE = (EndpointSignatures(ALL_ENDPOINTS, DEFAULT_SIGNATURES),)
# carcabot tiktok-signature 4.3.6 xgnarly.mjs (signatures.md §2, field-notes §5): one order, one width per field.
ZTCA_FIELD_ORDER = (1, 8, 12, 11, 6, 9, 4, 7, 0, 14, 15, 2, 3, 10, 5, 13)
ZTCA_INT_WIDTHS = ((0, 4), (1, 2), (2, 2), (6, 4), (7, 4), (8, 4), (11, 2), (12, 2), (13, 2), (14, 4), (15, 4))

VENDOR_5_1_3 = SignerEnvironment(
    name="vendor-5.1.3",
    description="TikTok's webmssdk 5.1.3 as ttsign reproduces it byte for byte (the default)",
    payload_layout=PayloadLayout.V5_1_3,
    payload_version="5.1.3",
    sdk_build="1.0.0.328",
    x_bogus_sdk="5.1.3",
    browser_values=BrowserValues(),
    field_order=FieldOrderPolicy.SHUFFLED,
    fixed_field_order=FULL_FIELD_ORDER,
    int_width=IntWidthPolicy.MINIMAL,
    short_int_limit=1 << 16,
    fixed_int_widths=(),
    chacha_rounds=0,
    init_stamp=InitStampPolicy.PAGE_LOAD_US,
    endpoint_signatures=_EVERYWHERE,
    profiles=_DEFAULT_PROFILES,
)
XBOGUS_1_0_0_368 = replace(
    VENDOR_5_1_3,
    name="xbogus-1.0.0.368",
    description="webmssdk 1.0.0.368: X-Bogus and msToken only (that build has no X-Gnarly)",
    sdk_build="1.0.0.368",
    x_bogus_sdk="1.0.0.368",
    endpoint_signatures=(EndpointSignatures(ALL_ENDPOINTS, frozenset({"msToken", "X-Bogus"})),),
)
LEGACY_5_1_0 = replace(
    VENDOR_5_1_3,
    name="legacy-5.1.0",
    description="the public 5.1.0 tool: keys 0..9 in ascending order, field 8 from the clock",
    payload_layout=PayloadLayout.V5_1_0,
    payload_version="5.1.0",
    sdk_build="",
    browser_values=BrowserValues(envcode=1, ubcode=0, canvas=1245783967),
    field_order=FieldOrderPolicy.FIXED,
    fixed_field_order=tuple(range(10)),
    short_int_limit=255 * 255,
    init_stamp=InitStampPolicy.CLOCK_US,
)
LEGACY_5_1_1 = replace(
    LEGACY_5_1_0,
    name="legacy-5.1.1",
    description="the public 5.1.1 tool: 5.1.0 plus the SDK build, a constant 1 and a key-12 XOR",
    payload_layout=PayloadLayout.V5_1_1,
    payload_version="5.1.1",
    sdk_build="1.0.0.314",
    browser_values=BrowserValues(envcode=1, ubcode=0, canvas=1508145731),
    fixed_field_order=tuple(range(13)),
)
VENDOR_5_1_3_ZTCA = replace(
    VENDOR_5_1_3,
    name="vendor-5.1.3-ztca",
    description="the 5.1.3-ZTCA variant (carcabot 4.3.6): fixed field order and integer widths",
    payload_version="5.1.3-ZTCA",
    sdk_build="1.0.0.368",
    x_bogus_sdk="1.0.0.368",
    browser_values=BrowserValues(envcode=65, ubcode=4, canvas=3181061566),
    field_order=FieldOrderPolicy.FIXED,
    fixed_field_order=ZTCA_FIELD_ORDER,
    int_width=IntWidthPolicy.FIXED,
    fixed_int_widths=ZTCA_INT_WIDTHS,
    init_stamp=InitStampPolicy.CLOCK_MS,
)
DEFAULT_ENVIRONMENT = VENDOR_5_1_3
BUILTIN_ENVIRONMENTS: Mapping[str, SignerEnvironment] = MappingProxyType(
    {env.name: env for env in (VENDOR_5_1_3, VENDOR_5_1_3_ZTCA, XBOGUS_1_0_0_368, LEGACY_5_1_0, LEGACY_5_1_1)}
)
