"""API tokens: created once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from spoolwatch.errors import ConfigError
from spoolwatch.store.base import Store
from spoolwatch.store.schema import api_tokens

__all__ = [
    "TokenInfo",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
    "token_is_valid",
]

TOKEN_PREFIX = "sw_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is kept about a token (never the token itself)."""

    id: str
    name: str
    created_at: float
    revoked_at: float | None


def hash_token(token: str) -> str:
    """The stored form of a token. Tokens are 256 random bits, so a plain hash suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, name: str) -> tuple[TokenInfo, str]:
    """Create a token named ``name``; return its record and the token (shown only now)."""
    name = name.strip()
    if not name:
        raise ConfigError("--name: a token needs a non-empty name")
    if len(name) > 200:  # the column's width, enforced by PostgreSQL but not SQLite
        raise ConfigError("--name: at most 200 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    info = TokenInfo(uuid.uuid4().hex, name, time.time(), None)
    with store.write() as conn:
        conn.execute(
            api_tokens.insert().values(
                id=info.id, name=name, token_hash=hash_token(token), created_at=info.created_at
            )
        )
    return info, token


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token, oldest first, revoked ones included."""
    with store.read() as conn:
        rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at)).all()
    return [TokenInfo(r.id, r.name, r.created_at, r.revoked_at) for r in rows]


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


def token_is_valid(store: Store, token: str) -> bool:
    """Whether ``token`` exists and is not revoked."""
    with store.read() as conn:
        row = conn.execute(
            select(api_tokens.c.revoked_at).where(api_tokens.c.token_hash == hash_token(token))
        ).first()
    return row is not None and row.revoked_at is None
