"""Logins, signed session cookies, CSRF tokens and the one permission check every route
goes through (`authorize`).

The cookie holds the user name and the session's CSRF token, signed (itsdangerous) with the
server's secret and dated; it is HttpOnly and SameSite=Strict. Every write must echo the
CSRF token in the `X-CSRF-Token` header; the role comes from the users file on each request,
so a changed role takes effect at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.exceptions import HTTPException
from starlette.requests import Request

from haptics.web.users import Users

COOKIE: Final = "haptics_session"
CSRF_HEADER: Final = "x-csrf-token"
MAX_AGE_S: Final = 12 * 3600
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

# permission → roles holding it; "public" needs no login
PERMISSIONS: Final[dict[str, tuple[str, ...]]] = {
    "public": (),
    "read": ("annotator", "reviewer", "admin"),
    "label": ("annotator", "reviewer"),
    "review": ("reviewer", "admin"),
    "manage": ("admin",),
}


@dataclass(frozen=True)
class Login:
    """Who is asking, with their role and their session's CSRF token."""

    user: str
    role: str
    csrf: str


class Signer:
    """Makes and reads session cookies."""

    def __init__(self, secret: str) -> None:
        self._s = URLSafeTimedSerializer(secret, salt="haptics-annotate-session")

    def cookie(self, user: str) -> tuple[str, str]:
        """(cookie value, CSRF token) of a new login session."""
        csrf = secrets.token_urlsafe(24)
        return self._s.dumps({"u": user, "c": csrf}), csrf

    def read(self, value: str) -> tuple[str, str] | None:
        """(user, csrf) from a cookie, or None if it is forged, malformed or expired."""
        try:
            data = self._s.loads(value, max_age=MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        u, c = data.get("u"), data.get("c")
        return (u, c) if isinstance(u, str) and isinstance(c, str) else None


def login_of(request: Request, signer: Signer, users: Users) -> Login | None:
    """The logged-in user of a request, or None."""
    raw = request.cookies.get(COOKIE)
    got = signer.read(raw) if raw else None
    if got is None:
        return None
    user, csrf = got
    role = {u["user"]: u["role"] for u in users.list()}.get(user)
    return None if role is None else Login(user, role, csrf)


def authorize(request: Request, permission: str, signer: Signer, users: Users) -> Login | None:
    """The one check every route goes through: a login (401), a valid CSRF token on every
    write (403), and a role holding `permission` (403). None for a public route."""
    if permission == "public":
        return None
    login = login_of(request, signer, users)
    if login is None:
        raise HTTPException(401, "log in first (POST /api/login)")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), login.csrf.encode()):
            raise HTTPException(403, "missing or wrong CSRF token; reload the page and retry")
    if login.role not in PERMISSIONS[permission]:
        raise HTTPException(
            403,
            f"'{login.user}' is a {login.role}; this needs one of: "
            f"{', '.join(PERMISSIONS[permission])}",
        )
    return login
