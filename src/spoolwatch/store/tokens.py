"""API tokens: created once, stored as a SHA-256 hash, revocable, each with one scope.

Scopes: ``ingest`` (agents: write records, heartbeats, known record ids, the API version),
``read`` (the query API, the dashboard's data, Prometheus metrics) and ``admin`` (everything,
including creating and deleting deployments). Tokens made before scopes existed are
``admin``, as they could do everything.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import or_, select, update

from spoolwatch.errors import ConfigError
from spoolwatch.store.base import Store
from spoolwatch.store.schema import api_tokens

__all__ = [
    "TokenInfo",
    "TokenScope",
    "create_token",
    "hash_token",
    "list_tokens",
    "parse_scope",
    "revoke_token",
    "token_is_valid",
    "token_scope",
]

TOKEN_PREFIX = "sw_"


class TokenScope(StrEnum):
    """What a token may do; ``admin`` may do what every other scope may."""

    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"

    def allows(self, needed: TokenScope) -> bool:
        """Whether a token of this scope may call a route that needs ``needed``."""
        return self is TokenScope.ADMIN or self is needed


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is kept about a token (never the token itself)."""

    id: str
    name: str
    created_at: float
    revoked_at: float | None
    #: ``ingest``, ``read`` or ``admin`` as stored
    scope: str = TokenScope.ADMIN.value


def parse_scope(value: str) -> TokenScope:
    """``ingest``, ``read`` or ``admin`` (any case); :class:`ConfigError` naming the choices."""
    try:
        return TokenScope(value.strip().lower())
    except ValueError:
        choices = ", ".join(scope.value for scope in TokenScope)
        raise ConfigError(f"--scope: {value!r} is not one of {choices}") from None


def hash_token(token: str) -> str:
    """The stored form of a token. Tokens are 256 random bits, so a plain hash suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    store: Store, name: str, scope: TokenScope | str = TokenScope.ADMIN
) -> tuple[TokenInfo, str]:
    """Create a token named ``name`` with ``scope``; return its record and the token (shown
    only now)."""
    scope = parse_scope(scope)
    name = name.strip()
    if not name:
        raise ConfigError("--name: a token needs a non-empty name")
    if len(name) > 200:  # the column's width, enforced by PostgreSQL but not SQLite
        raise ConfigError("--name: at most 200 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    info = TokenInfo(uuid.uuid4().hex, name, time.time(), None, scope.value)
    with store.write() as conn:
        conn.execute(
            api_tokens.insert().values(
                id=info.id,
                name=name,
                token_hash=hash_token(token),
                created_at=info.created_at,
                scope=scope.value,
            )
        )
    return info, token


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token, oldest first, revoked ones included."""
    with store.read() as conn:
        rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at)).all()
    return [TokenInfo(r.id, r.name, r.created_at, r.revoked_at, r.scope) for r in rows]


def revoke_token(store: Store, id_or_name: str) -> int:
    """Revoke the tokens with this id or name; return how many were revoked."""
    with store.write() as conn:
        result = conn.execute(
            update(api_tokens)
            .where(or_(api_tokens.c.id == id_or_name, api_tokens.c.name == id_or_name))
            .where(api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
    return int(result.rowcount or 0)


def token_scope(store: Store, token: str) -> TokenScope | None:
    """The scope of ``token``; ``None`` when it does not exist, was revoked, or holds a
    scope this version does not know (written by a newer one): such a token grants nothing."""
    with store.read() as conn:
        row = conn.execute(
            select(api_tokens.c.revoked_at, api_tokens.c.scope).where(
                api_tokens.c.token_hash == hash_token(token)
            )
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    try:
        return TokenScope(row.scope)
    except ValueError:
        return None


def token_is_valid(store: Store, token: str) -> bool:
    """Whether ``token`` exists and is not revoked."""
    return token_scope(store, token) is not None
