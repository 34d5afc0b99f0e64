"""Drift check: what TikTok's own SDK signs today, against what the native environment would sign.

A fixed set of requests is signed by the vendor script (on more than one page, so a per-page field
order shows as such); every token is decoded and its environment read back: version strings, the
environment bytes, the payload's fields, integer widths and field order. Each disagreement with the
native environment is reported field by field, with the environment (as TOML) that would make native
agree. Pure over the signed results: the signing itself happens in the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from ttsign.signing import url as urls
from ttsign.signing import xbogus, xgnarly
from ttsign.signing.environment import (
    BrowserValues,
    FieldOrderPolicy,
    InitStampPolicy,
    IntWidthPolicy,
    SignerEnvironment,
)
from ttsign.signing.profile import BrowserProfile
from ttsign.signing.signer import SignedRequest

SELFTEST_URLS = (
    ("GET", "https://webcast.tiktok.com/webcast/room/info/?aid=1988&room_id=7390000000000000001", ""),
    ("GET", "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=7390000000000000001&cursor=", ""),
    ("POST", "https://webcast.tiktok.com/webcast/room/chat/?aid=1988&room_id=7390000000000000001", "content=hi"),
)


@dataclass(frozen=True)
class Drift:
    field: str
    native: str
    vendor: str


@dataclass(frozen=True)
class Observed:
    """The environment the vendor's tokens carry."""

    payload_version: str
    sdk_build: str
    values: BrowserValues
    keys: frozenset[int]
    int_widths: dict[int, int]
    int_values: dict[int, int]
    orders: frozenset[tuple[int, ...]]  # one per page signed on
    stamps: tuple[tuple[tuple[int, ...], int, int], ...]  # (page's order, field 8, field 6) per token


@dataclass(frozen=True)
class DriftReport:
    drifts: tuple[Drift, ...]
    observed: Observed
    agreeing: SignerEnvironment  # native changed to agree with the vendor

    @property
    def drifted(self) -> bool:
        return bool(self.drifts)


class UnreadableToken(ValueError):
    """A vendor token ttsign cannot decode at all: the envelope or cipher itself changed."""


def observe(signed: Sequence[SignedRequest]) -> Observed:
    """Read the environment back from the vendor's signed requests (signed on one or more pages)."""
    envelopes, bogus = [], []
    for request in signed:
        query = urls.split(request.url).query
        try:
            envelopes.append(xgnarly.decode(urls.find_param(query, "X-Gnarly") or ""))
            bogus.append(xbogus.decode(urls.find_param(query, "X-Bogus") or ""))
        except (xgnarly.XGnarlyError, xbogus.XBogusError) as exc:
            raise UnreadableToken(f"cannot decode the vendor's signatures: {exc}") from None
    if not envelopes:
        raise UnreadableToken("the vendor signed nothing")
    first, token = envelopes[0], bogus[0]
    ints = {k: v for k, v in first.fields.items() if isinstance(v, int)}
    return Observed(
        payload_version=str(first.fields.get(9, "")),
        sdk_build=str(first.fields.get(10, "")),
        values=BrowserValues(token.envcode, token.ubcode, token.canvas),
        keys=frozenset(first.fields),
        int_widths={k: first.field_widths[k] for k in ints},
        int_values=ints,
        orders=frozenset(e.field_order for e in envelopes),
        stamps=tuple((e.field_order, _int(e.fields.get(8)), _int(e.fields.get(6))) for e in envelopes),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) else -1


def compare(native: SignerEnvironment, profile: BrowserProfile, observed: Observed, *, pages: int) -> DriftReport:
    """Field by field: native (for `profile`) against what the vendor signed on `pages` pages."""
    mine = native.apply(profile)
    drifts: list[Drift] = []

    def check(name: str, want: object, got: object) -> None:
        if want != got:
            drifts.append(Drift(name, str(want), str(got)))

    check("payload_version", native.payload_version, observed.payload_version)
    check("sdk_build", native.sdk_build, observed.sdk_build)
    check("envcode", mine.envcode, observed.values.envcode)
    check("ubcode", mine.ubcode, observed.values.ubcode)
    check("canvas", mine.canvas, observed.values.canvas)
    check("fields", sorted(native.field_keys), sorted(observed.keys))
    order = _order_policy(observed, pages)
    check("field_order", native.field_order.value, order.value)
    widths = _width_policy(native, observed)
    check("int_width", native.int_width.value, widths.value)
    stamp = _stamp_policy(observed)
    check("init_stamp", native.init_stamp.value, stamp.value)
    agreeing = dataclasses.replace(
        native,
        name="observed",
        description=f"what the vendor SDK signed ({observed.payload_version} / {observed.sdk_build})",
        payload_version=observed.payload_version,
        sdk_build=observed.sdk_build,
        browser_values=observed.values,
        field_order=order,
        fixed_field_order=next(iter(observed.orders)) if order is FieldOrderPolicy.FIXED else native.fixed_field_order,
        int_width=widths,
        init_stamp=stamp,
        fixed_int_widths=tuple(sorted(observed.int_widths.items())) if widths is IntWidthPolicy.FIXED else (),
    )
    return DriftReport(tuple(drifts), observed, agreeing)


def _order_policy(observed: Observed, pages: int) -> FieldOrderPolicy:
    """Shuffled when pages disagree on the order; one order over several pages is a fixed order."""
    if len(observed.orders) > 1:
        return FieldOrderPolicy.SHUFFLED
    return FieldOrderPolicy.FIXED if pages > 1 else FieldOrderPolicy.SHUFFLED


def _stamp_policy(observed: Observed) -> InitStampPolicy:
    """Field 8: the same on every request of a page is the page-load stamp; else the clock, in ms or µs."""
    per_page: dict[tuple[int, ...], set[int]] = {}
    for order, stamp, _ in observed.stamps:
        per_page.setdefault(order, set()).add(stamp)
    if all(len(stamps) == 1 for stamps in per_page.values()) and len(observed.stamps) > len(per_page):
        return InitStampPolicy.PAGE_LOAD_US
    _, stamp, seconds = observed.stamps[-1]
    as_ms = (seconds * 1000) % (1 << 31)
    return InitStampPolicy.CLOCK_MS if 0 <= stamp - as_ms < 1000 else InitStampPolicy.CLOCK_US


def _width_policy(native: SignerEnvironment, observed: Observed) -> IntWidthPolicy:
    minimal = all(
        width == (2 if observed.int_values[key] < native.short_int_limit else 4)
        for key, width in observed.int_widths.items()
    )
    return IntWidthPolicy.MINIMAL if minimal else IntWidthPolicy.FIXED
