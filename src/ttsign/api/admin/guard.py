"""Who may use the admin API: a valid session cookie, a request from ttsign's own pages, and for every call
that changes something the session's CSRF token in a header.

Three layers against cross-site requests, each enough on its own in a current browser: the cookie is
SameSite=Strict (another site's request carries none), a request marked cross-site by the browser
(Sec-Fetch-Site) or coming from another origin (Origin) is refused, and a state-changing call must carry the
CSRF token, which only a page of this origin can read.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import Request

from ttsign.api.admin.console_app import console_app
from ttsign.api.admin.session import COOKIE_NAME, CSRF_HEADER, AdminSession

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OWN_SITE = frozenset({"same-origin", "none"})  # "none": the operator typed the address or used a bookmark


class AdminRefused(Exception):
    """An admin request refused: answered as ttsign's JSON error (code, reason, message)."""

    def __init__(self, status: int, reason: str, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after_s = retry_after_s


def refuse_cross_site(request: Request) -> None:
    """403 `cross_site` unless the browser says the request comes from this origin (or says nothing: curl)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in _OWN_SITE:
        raise AdminRefused(403, "cross_site", f"admin requests from another site are refused (Sec-Fetch-Site: {site})")
    origin = request.headers.get("origin")
    if origin is not None and not _same_origin(origin, request):
        raise AdminRefused(403, "cross_site", "admin requests from another origin are refused")


def _same_origin(origin: str, request: Request) -> bool:
    # Host, not the scheme: behind a TLS-terminating proxy the page is https while ttsign sees http.
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc.lower() == host.lower()


async def admin_session(request: Request) -> AdminSession:
    """The caller's session (FastAPI dependency of every admin API route but login)."""
    refuse_cross_site(request)
    session = console_app(request).sessions.check(request.cookies.get(COOKIE_NAME, ""))
    if session is None:
        raise AdminRefused(401, "admin_login_required", "log in to the console first (POST /admin/api/login)")
    if request.method not in SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(presented.encode("utf-8", "replace"), session.csrf_token.encode("ascii")):
            raise AdminRefused(403, "csrf_token_invalid", f"a state-changing admin call needs the {CSRF_HEADER} header")
    return session
