"""Typed dependencies: the wired services, a database session per request, the signed-in user.

Two ways to sign in: an API token (`Authorization: Bearer …`, for programs) or the approvers' signed
session cookie set by the sign-in page (api/pages/login.py). The cookie holds the user id, its expiry, a
per-session CSRF token and a fingerprint of the password hash, signed with HMAC-SHA256 under
`settings.web_secret` (a random key per process when unset, so a restart signs everyone out). A
request authenticated by the cookie that changes state through the JSON API must also carry the
session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.container import Services
from service.errors import Forbidden, Unauthenticated
from service.users import User, hash_token, user_by_id, user_by_token

SESSION_COOKIE = "miaopi_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNSET = object()
_bearer = HTTPBearer(auto_error=False, description="API token (`miaopi user add` prints it)")


async def get_services(request: Request) -> Services:
    """Async: an attribute read needs no thread of the pool."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with services.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


# -- the signed session cookie -----------------------------------------------------------------------
@dataclass(frozen=True)
class WebSession:
    user_id: str
    expires: int
    """Unix time."""
    csrf: str
    password: str
    """Fingerprint of the password hash at sign-in: changing the password ends the session."""
    issued: int = 0
    """Unix time of the sign-in in milliseconds: sign-out (or revocation) ends every session issued
    before it."""


def session_key(request: Request) -> bytes:
    """The cookie signing key of this application: settings.web_secret, or one random key per process."""
    state = request.app.state
    key: bytes | None = getattr(state, "web_key", None)
    if key is None:
        secret = request.app.state.services.settings.web_secret
        key = hashlib.sha256(secret.encode("utf-8")).digest() if secret else secrets.token_bytes(32)
        state.web_key = key
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def password_fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode("utf-8")).hexdigest()[:16]


def sign_session(key: bytes, session: WebSession) -> str:
    body = _b64(
        json.dumps(
            {
                "u": session.user_id,
                "e": session.expires,
                "c": session.csrf,
                "p": session.password,
                "i": session.issued,
            },
            separators=(",", ":"),
        ).encode("utf-8")
    )
    mac = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def new_session(key: bytes, user: User, *, hours: float) -> tuple[WebSession, str]:
    """A fresh session for `user` and its cookie value."""
    now = time.time()
    session = WebSession(
        user_id=user.id,
        expires=int(now + hours * 3600),
        csrf=secrets.token_urlsafe(24),
        password=password_fingerprint(user),
        issued=int(now * 1000),  # milliseconds: a sign-in right after a sign-out is not ended by it
    )
    return session, sign_session(key, session)


def read_session(key: bytes, value: str | None, *, now: float | None = None) -> WebSession | None:
    """The session in a cookie value, or None when it is missing, forged, malformed or expired."""
    if not value or value.count(".") != 1 or len(value) > 2000:
        return None
    body, mac = value.split(".")
    try:
        expected = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        data: Any = json.loads(_unb64(body))
        session = WebSession(
            user_id=str(data["u"]),
            expires=int(data["e"]),
            csrf=str(data["c"]),
            password=str(data["p"]),
            issued=int(data.get("i", 0)),
        )
    except (ValueError, KeyError, TypeError, UnicodeError):
        return None
    if session.expires <= (time.time() if now is None else now):
        return None
    return session


def web_session(request: Request, session: Session) -> tuple[User, WebSession] | None:
    """The user signed in by the session cookie (cached on the request), or None."""
    cached = getattr(request.state, "web_session", _UNSET)
    if cached is not _UNSET:
        return cast("tuple[User, WebSession] | None", cached)
    ws = read_session(session_key(request), request.cookies.get(SESSION_COOKIE))
    result: tuple[User, WebSession] | None = None
    if ws is not None:
        user = user_by_id(session, ws.user_id)
        if (
            user is not None
            and hmac.compare_digest(password_fingerprint(user), ws.password)
            and not _ended(user, ws)
        ):
            result = (user, ws)
    request.state.web_session = result
    return result


def _ended(user: User, ws: WebSession) -> bool:
    """The session was signed in before the user signed out (or was revoked)."""
    after = user.sessions_valid_after
    return after is not None and ws.issued <= int(after.timestamp() * 1000)


def csrf_ok(ws: WebSession, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(ws.csrf.encode(), (supplied or "").encode())


# -- the signed-in user of the JSON API --------------------------------------------------------------
def optional_user(
    request: Request,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | None:
    if creds is not None and creds.scheme.lower() == "bearer":
        return user_by_token(session, creds.credentials)
    signed_in = web_session(request, session)
    if signed_in is None:
        return None
    user, ws = signed_in
    if request.method not in SAFE_METHODS and not csrf_ok(ws, request.headers.get(CSRF_HEADER)):
        raise Forbidden(f"使用登录会话调用接口修改数据时须提供 {CSRF_HEADER} 请求头")
    return user


def _signed_in(
    request: Request, services: Services, creds: HTTPAuthorizationCredentials | None
) -> User | None:
    with services.sessions() as session:
        return optional_user(request, session, creds)


_TOKEN_CACHE_MAX = 10_000


async def user_of_request(
    request: Request,
    services: ServicesDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The signed-in user of a JSON API request (API token, or the session cookie with its CSRF token).

    The look-up takes a pool thread and a database connection only while it runs: a request must not
    hold a connection between two hops through the thread pool (once the pool's connections are all
    held by requests waiting for a thread, and every thread waits for a connection, nothing moves
    until the connection pool's timeout). A user found by API token is remembered for
    `settings.token_cache_s` seconds, so a stream of requests with one token needs neither."""
    ttl = services.settings.token_cache_s
    key = ""
    cache: dict[str, tuple[float, User]] | None = None
    if ttl > 0 and creds is not None and creds.scheme.lower() == "bearer":
        key = hash_token(creds.credentials)
        cache = getattr(request.app.state, "token_cache", None)
        if cache is None:
            cache = request.app.state.token_cache = {}
        hit = cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    user = await run_in_threadpool(_signed_in, request, services, creds)
    if user is None:
        raise Unauthenticated("请提供有效的访问令牌（Authorization: Bearer …）")
    if cache is not None:
        if len(cache) >= _TOKEN_CACHE_MAX:
            cache.clear()
        cache[key] = (time.monotonic() + ttl, user)
    return user


SignedInDep = Annotated[User, Depends(user_of_request)]
"""The signed-in user, without a database session held for the rest of the request."""
