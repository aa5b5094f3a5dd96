"""Bearer-token authentication for every ``/api/v2`` call.

Tokens are checked against their stored hash; answers are cached for a few seconds so a
busy agent does not cost a database read per request (a revoked token stops working within
``cache_seconds``). ``Authorization: Bearer  <token>`` with two spaces, as DataRobot's
library sends it, is accepted.
"""

from __future__ import annotations

import threading
import time

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from spoolwatch.store.base import Store
from spoolwatch.store.tokens import hash_token, token_is_valid

__all__ = ["TokenChecker", "bearer_token", "require_token"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="spoolwatch"'}


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
    """Whether a token is valid, with a short positive and negative cache."""

    def __init__(self, store: Store, *, cache_seconds: float = 5.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> bool | None:
        """The cached answer for the token, or ``None`` when it must be looked up."""
        key = hash_token(token)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        return None

    def is_valid(self, token: str) -> bool:
        """Look the token up (cached for :attr:`cache_seconds`)."""
        hit = self.cached(token)
        if hit is not None:
            return hit
        key = hash_token(token)
        now = time.monotonic()
        valid = token_is_valid(self.store, token)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, valid)
        return valid


async def require_token(request: Request) -> None:
    """FastAPI dependency: 401 with ``WWW-Authenticate: Bearer`` unless the token is valid.

    Asynchronous so that a cached token costs no trip through the thread pool (which reads
    need); only a lookup in the store runs there.
    """
    checker: TokenChecker | None = request.app.state.token_checker
    if checker is None:  # --no-auth on a loopback address
        return
    header = request.headers.get("authorization")
    token = bearer_token(header)
    if token is None:
        message = (
            "missing Authorization header: send 'Authorization: Bearer <token>' "
            "(create one with 'spoolwatch tokens create --name NAME')"
            if not header
            else "malformed Authorization header: expected 'Bearer <token>'"
        )
        raise HTTPException(status_code=401, detail=message, headers=_CHALLENGE)
    valid = checker.cached(token)
    if valid is None:
        valid = await run_in_threadpool(checker.is_valid, token)
    if not valid:
        raise HTTPException(
            status_code=401, detail="invalid or revoked API token", headers=_CHALLENGE
        )
