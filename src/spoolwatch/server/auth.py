"""Bearer-token authentication and scopes for every ``/api/v2`` call.

Tokens are checked against their stored hash; answers (the token's scope, or that it is not
valid) are cached for a few seconds so a busy agent does not cost a database read per
request (a revoked token stops working within ``cache_seconds``). ``Authorization: Bearer
<token>`` with two spaces, as DataRobot's library sends it, is accepted.

Each route declares the scope it needs with one of the dependencies below: ``ingest`` for
what agents call, ``read`` for queries, ``admin`` for changes; an ``admin`` token may call
every route. A valid token without the scope gets 403 naming both scopes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from spoolwatch.store.base import Store
from spoolwatch.store.tokens import TokenScope, hash_token, token_scope

__all__ = [
    "TokenChecker",
    "bearer_token",
    "require_admin",
    "require_ingest",
    "require_read",
    "require_scope",
    "require_token",
]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="spoolwatch"'}

#: A looked-up token: its scope, or ``False`` when it is unknown or revoked.
Verdict = TokenScope | Literal[False]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``.

    ``Token <token>``, the older scheme DataRobot's API also takes, is accepted too.
    """
    if not header:
        return None
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in {"bearer", "token"}:
        return None
    return parts[1]


class TokenChecker:
    """A token's scope (or that it is not valid), with a short positive and negative cache."""

    def __init__(self, store: Store, *, cache_seconds: float = 5.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Verdict]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> Verdict | None:
        """The cached verdict for the token, or ``None`` when it must be looked up."""
        key = hash_token(token)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        return None

    def verdict(self, token: str) -> Verdict:
        """Look the token up (cached for :attr:`cache_seconds`)."""
        hit = self.cached(token)
        if hit is not None:
            return hit
        key = hash_token(token)
        now = time.monotonic()
        found: Verdict = token_scope(self.store, token) or False
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, found)
        return found

    def forget_all(self) -> None:
        """Drop every cached verdict (after a revocation, so it applies at once)."""
        with self._lock:
            self._cache.clear()

    def is_valid(self, token: str) -> bool:
        """Whether the token exists and is not revoked, whatever its scope."""
        return self.verdict(token) is not False


async def _authenticate(request: Request) -> TokenScope | None:
    """The request's token scope (401 unless valid); ``None`` when the service runs without auth.

    Asynchronous so that a cached token costs no trip through the thread pool (which reads
    need); only a lookup in the store runs there.
    """
    checker: TokenChecker | None = request.app.state.token_checker
    if checker is None:  # --no-auth on a loopback address
        return None
    header = request.headers.get("authorization")
    token = bearer_token(header)
    if token is None:
        message = (
            "missing Authorization header: send 'Authorization: Bearer <token>' "
            "(create one with 'spoolwatch tokens create --name NAME --scope SCOPE')"
            if not header
            else "malformed Authorization header: expected 'Bearer <token>'"
        )
        raise HTTPException(status_code=401, detail=message, headers=_CHALLENGE)
    verdict = checker.cached(token)
    if verdict is None:
        verdict = await run_in_threadpool(checker.verdict, token)
    if verdict is False:
        raise HTTPException(
            status_code=401, detail="invalid or revoked API token", headers=_CHALLENGE
        )
    return verdict


async def require_token(request: Request) -> None:
    """FastAPI dependency: 401 with ``WWW-Authenticate: Bearer`` unless the token is valid
    (any scope)."""
    await _authenticate(request)


def require_scope(needed: TokenScope) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency: 401 as :func:`require_token`, then 403 unless the token's scope
    allows ``needed``."""

    async def dependency(request: Request) -> None:
        scope = await _authenticate(request)
        if scope is None or scope.allows(needed):
            return
        route = request.scope.get("route")
        path = getattr(route, "path", request.url.path)
        raise HTTPException(
            status_code=403,
            detail=(
                f"this token has scope {scope.value}; {request.method} {path} needs "
                f"{needed.value} (make a token for it with 'spoolwatch tokens create "
                f"--name NAME --scope {needed.value}')"
            ),
        )

    dependency.__name__ = f"require_{needed.value}"
    return dependency


require_ingest = require_scope(TokenScope.INGEST)
require_read = require_scope(TokenScope.READ)
require_admin = require_scope(TokenScope.ADMIN)
