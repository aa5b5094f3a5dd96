"""``/api/v2/spoolwatch/tokens/``: create, list and revoke API tokens (scope ``admin``).

A created token is in the answer to its ``POST`` only; the service keeps its hash, and
neither the token nor the body that asked for it is logged. A revoked token stops working
at once on the process that revoked it and within ``cache_seconds`` on the others.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from spoolwatch.errors import ConfigError
from spoolwatch.server.auth import TokenChecker, require_admin
from spoolwatch.store.tokens import (
    TokenInfo,
    create_token,
    list_tokens,
    parse_scope,
    revoke_token,
)

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v2/spoolwatch", tags=["tokens"], dependencies=[Depends(require_admin)]
)


class TokenCreate(BaseModel):
    """``POST spoolwatch/tokens/``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="what the token is for")
    scope: str = Field(default="ingest", description="ingest, read or admin")


class TokenResponse(BaseModel):
    """A token as listed: never the token itself."""

    id: str
    name: str
    scope: str
    createdAt: float
    revokedAt: float | None


class CreatedToken(TokenResponse):
    """A new token: ``token`` is shown in this answer only."""

    token: str


class TokenList(BaseModel):
    """``GET spoolwatch/tokens/``."""

    count: int
    data: list[TokenResponse]


class RevokedTokens(BaseModel):
    """``DELETE spoolwatch/tokens/{id_or_name}/``."""

    revoked: int


def _shown(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "scope": info.scope,
        "createdAt": info.created_at,
        "revokedAt": info.revoked_at,
    }


@router.post(
    "/tokens/",
    status_code=201,
    response_model=CreatedToken,
    responses={422: {"description": "invalid name or scope"}},
)
def create(request: Request, body: TokenCreate) -> dict[str, Any]:
    """Create a token; the answer holds it, and nothing else ever will."""
    try:
        scope = parse_scope(body.scope)
    except ConfigError as exc:
        raise _unprocessable("scope", exc) from exc
    try:
        info, token = create_token(request.app.state.store, body.name, scope)
    except ConfigError as exc:  # the only other setting: a name that is blank once stripped
        raise _unprocessable("name", exc) from exc
    return {**_shown(info), "token": token}


def _unprocessable(field: str, exc: ConfigError) -> HTTPException:
    message = str(exc).split(": ", 1)[-1]  # without the CLI's "--scope: "
    detail = [{"loc": ["body", field], "msg": message, "type": "value_error"}]
    return HTTPException(status_code=422, detail=detail)


@router.get("/tokens/", response_model=TokenList)
def list_all(request: Request) -> dict[str, Any]:
    """Every token, oldest first, revoked ones included (names, scopes, dates)."""
    data = [_shown(info) for info in list_tokens(request.app.state.store)]
    return {"count": len(data), "data": data}


@router.delete(
    "/tokens/{id_or_name}/",
    response_model=RevokedTokens,
    responses={404: {"description": "no active token with that id or name"}},
)
def revoke(request: Request, id_or_name: str) -> dict[str, Any]:
    """Revoke the active tokens with this id or name."""
    count = revoke_token(request.app.state.store, id_or_name)
    if not count:
        raise HTTPException(
            status_code=404, detail=f"no active token with id or name {id_or_name!r}"
        )
    checker: TokenChecker | None = request.app.state.token_checker
    if checker is not None:
        checker.forget_all()
    return {"revoked": count}
