"""Strict mode's independent reference: TikTok's own webmssdk.js reproduces each signature it is shown.

`verify_request` is ttsign's own code, the same as the signer's, so a bug they share passes it. Here the
vendor SDK (run by the vendor-script backend's Node workers) signs the same request again, the same URL,
body, User-Agent and msToken, with its clock pinned to the second the X-Bogus claims, and the request's
signatures are compared with that reference:

- ``vendor.reproduced``: the SDK signed the very bytes the request's signatures cover (msToken last, as
  the SDK appends it).
- ``vendor.x_bogus``: X-Bogus has no randomness. Only the browser fingerprint bytes (envcode, ubcode,
  canvas) differ between the SDK in its shim and the client's browser, so ttsign's X-Bogus encoder, fed
  the reference's fingerprint bytes, must rebuild the reference token byte for byte, and fed the
  request's own fingerprint bytes, must rebuild the request's token byte for byte. A wrong byte, hash,
  field order, mask or alphabet in ttsign shows in the first comparison even when the verifier shares it.
- ``vendor.x_gnarly``: each token is sealed with fresh random key material and a per-page field order,
  so the reference cannot equal the request's token. Instead: the reference must decode with ttsign's
  decoder (cipher, alphabet, envelope), satisfy the checksum and envcode rules the verifier applies, and
  be rebuilt byte for byte by ttsign's encoder from its fields, with the request hashes (fields 3, 4, 5)
  computed by ttsign; and the request's token must carry the same field set, integer widths, request
  hashes, time (6), version strings (9, 10) and constant (11) as the reference. Not compared, because the
  SDK draws or counts them per page: field order, key, 8 (page stamp), 12/13 (request counters), 14's low
  16 bits and 15 (random), 0 (their checksum); envcode, ubcode and canvas (1, 2, 7) are the browser's.

One Node worker runs one SDK page, whose msToken is fixed when the page starts, so the reference keeps a
small pool of pages, one per msToken, the least recently used closed first.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ttsign.signers.backend import BackendRefusal
from ttsign.signers.vendor_script import VendorScriptBackend, VendorScriptOptions
from ttsign.signing import ProfileError, profile_from_user_agent, xbogus, xgnarly
from ttsign.signing import url as urls
from ttsign.signing.digest import md5hex
from ttsign.signing.sdk_session import checksum_holds
from ttsign.signing.verify import Check

SIGNED_HOST = "https://webcast.tiktok.com"
# Fields the SDK derives from the request, or writes as constants: the request's token must match them.
_BOUND_FIELDS = (3, 4, 5, 6, 9, 10, 11)
_REQUEST_HASH_FIELDS = (3, 4, 5)


@dataclass(frozen=True)
class VendorVerifyOptions:
    bundle: Path
    pages: int = 4  # SDK pages (Node workers) kept, one per msToken
    timeout_s: float = 5.0
    node: str = "node"


class VendorReference:
    """Reproduces signatures with the vendor SDK and compares (see the module docstring)."""

    def __init__(self, options: VendorVerifyOptions) -> None:
        self.options = options
        self._pages: OrderedDict[str, VendorScriptBackend] = OrderedDict()
        self._busy: Counter[str] = Counter()  # calls in flight per page: a busy page is never closed

    def _page(self, ms_token: str) -> VendorScriptBackend:
        page = self._pages.pop(ms_token, None)
        if page is None:
            options = VendorScriptOptions(
                self.options.bundle, workers=1, timeout_s=self.options.timeout_s, node=self.options.node
            )
            page = VendorScriptBackend(options, ms_token=lambda: ms_token)
        self._pages[ms_token] = page
        return page

    async def _retire_old_pages(self) -> None:
        idle = [token for token in self._pages if not self._busy[token]]  # least recently used first
        # Taken out of the pool before any await, so a concurrent call never finds a page being closed.
        retired = [self._pages.pop(t) for t in idle[: max(0, len(self._pages) - max(1, self.options.pages))]]
        for page in retired:
            await page.aclose()

    async def verify(
        self, path: str, raw_query: str, body: str, user_agent: str, *, method: str = "GET"
    ) -> tuple[Check, ...]:
        """The vendor checks of one request (``raw_query`` as sent, signatures included)."""
        bogus_token = urls.find_param(raw_query, "X-Bogus")
        if bogus_token is None:
            return (Check("vendor.reproduced", False, "no X-Bogus: no time to reproduce the signature at"),)
        try:
            claimed_ts = xbogus.decode(bogus_token).ts
            platform = profile_from_user_agent(user_agent).browser_platform
        except (xbogus.XBogusError, ProfileError) as exc:
            return (Check("vendor.reproduced", False, f"nothing to reproduce: {exc}"),)
        ms_token = urls.unquote_value(urls.find_param(raw_query, "msToken") or "")
        unsigned = urls.strip_params(raw_query, urls.SIGNATURE_PARAMS)
        url = f"{SIGNED_HOST}{path}?{unsigned}" if unsigned else f"{SIGNED_HOST}{path}"
        self._busy[ms_token] += 1
        try:
            page = self._page(ms_token)
            reference = await page.sign_at(method, url, body, user_agent, platform, now_ms=claimed_ts * 1000)
        except BackendRefusal as exc:
            return (Check("vendor.reproduced", False, f"the vendor SDK did not sign: {exc}"),)
        finally:
            self._busy[ms_token] -= 1
            await self._retire_old_pages()
        return compare(raw_query, body, user_agent, urls.split(reference).query)

    async def check(self) -> None:
        """Start one SDK page (kept for requests without msToken); raise BackendRefusal when it cannot."""
        await self._page("").check()

    async def aclose(self) -> None:
        while self._pages:
            _, page = self._pages.popitem()
            await page.aclose()


def compare(raw_query: str, body: str, user_agent: str, reference_query: str) -> tuple[Check, ...]:
    """Pure: the request's signatures against the vendor SDK's reference for the same request."""
    signed = urls.signed_string(urls.unsigned_query(raw_query))
    if urls.signed_string(urls.unsigned_query(reference_query)) != signed:
        return (Check("vendor.reproduced", False, "the SDK signs other bytes (is msToken not last?)"),)
    checks = [Check("vendor.reproduced", True)]
    checks.append(_x_bogus(raw_query, reference_query, signed, body, user_agent))
    if urls.find_param(raw_query, "X-Gnarly") is not None:
        checks.append(_x_gnarly(raw_query, reference_query, signed, body, user_agent))
    return tuple(checks)


def _x_bogus(raw_query: str, reference_query: str, signed: str, body: str, user_agent: str) -> Check:
    ours_token = urls.find_param(raw_query, "X-Bogus") or ""
    theirs_token = urls.find_param(reference_query, "X-Bogus") or ""
    try:
        theirs = xbogus.decode(theirs_token)
        ours = xbogus.decode(ours_token)
        rebuilt_theirs = _rebuild_x_bogus(signed, body, user_agent, theirs)
        rebuilt_ours = _rebuild_x_bogus(signed, body, user_agent, ours)
    except xbogus.XBogusError as exc:
        return Check("vendor.x_bogus", False, f"cannot read or rebuild a token: {exc}")
    if rebuilt_theirs != theirs_token:
        detail = f"ttsign's X-Bogus algorithm gives {rebuilt_theirs}, the SDK {theirs_token}"
        return Check("vendor.x_bogus", False, detail)
    if rebuilt_ours != ours_token:
        detail = f"the SDK's algorithm gives {rebuilt_ours} for this browser, {ours_token} was sent"
        return Check("vendor.x_bogus", False, detail)
    return Check("vendor.x_bogus", True)


def _rebuild_x_bogus(signed: str, body: str, user_agent: str, token: xbogus.XBogus) -> str:
    return xbogus.encode(
        signed, body, user_agent, ts=token.ts, envcode=token.envcode, ubcode=token.ubcode, canvas=token.canvas
    )


def _x_gnarly(raw_query: str, reference_query: str, signed: str, body: str, user_agent: str) -> Check:
    theirs_token = urls.find_param(reference_query, "X-Gnarly") or ""
    try:
        theirs = xgnarly.decode(theirs_token)
    except xgnarly.XGnarlyError as exc:
        return Check("vendor.x_gnarly", False, f"ttsign cannot read the SDK's own X-Gnarly: {exc}")
    try:
        ours = xgnarly.decode(urls.find_param(raw_query, "X-Gnarly") or "")
    except xgnarly.XGnarlyError as exc:
        return Check("vendor.x_gnarly", False, f"the request's X-Gnarly does not decode: {exc}")
    problem = _reference_problem(theirs, theirs_token, signed, body, user_agent) or _field_problem(ours, theirs)
    return Check("vendor.x_gnarly", problem is None, problem or "")


def _reference_problem(theirs: xgnarly.Envelope, token: str, signed: str, body: str, user_agent: str) -> str | None:
    """Why ttsign's X-Gnarly rules or encoder disagree with the SDK's own token, or None."""
    if not checksum_holds(theirs.fields):
        return "ttsign's checksum rule rejects the SDK's own token"
    if isinstance(theirs.fields.get(14), int) and int(theirs.fields[14]) >> 16 != theirs.fields.get(1):
        return "ttsign's envcode rule (field 14) rejects the SDK's own token"
    hashes = dict(zip(_REQUEST_HASH_FIELDS, (md5hex(signed), md5hex(body), md5hex(user_agent)), strict=True))
    rebuilt = xgnarly.encode({**theirs.fields, **hashes}, theirs.field_order, theirs.key, xgnarly.FORMAT_5_1_3)
    if rebuilt != token:
        return "ttsign's X-Gnarly encoder does not rebuild the SDK's token from its fields"
    return None


def _field_problem(ours: xgnarly.Envelope, theirs: xgnarly.Envelope) -> str | None:
    """Why the request's X-Gnarly is not what the SDK writes for this request, or None."""
    if set(ours.fields) != set(theirs.fields):
        return f"fields {sorted(ours.fields)}, the SDK writes {sorted(theirs.fields)}"
    for key in _BOUND_FIELDS:
        if ours.fields.get(key) != theirs.fields.get(key):
            return f"field {key} is {ours.fields.get(key)!r}, the SDK writes {theirs.fields.get(key)!r}"
    widths = {k: w for k, w in ours.field_widths.items() if isinstance(ours.fields[k], int)}
    expected = {k: w for k, w in theirs.field_widths.items() if isinstance(theirs.fields[k], int)}
    if widths != expected:
        return f"integer widths {widths}, the SDK writes {expected}"
    return None
