"""Request limits: body size (413, enforced before the body is read into memory) and NUL
characters in the path or query (422: PostgreSQL text cannot hold them, SQLite would).

A client that goes away before sending its whole body (an agent killed mid-request, a
network cut) is logged as one warning naming the method, path and bytes received: there is
nobody left to answer, and it is not the service's error."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import ClientDisconnect

__all__ = ["NUL_MESSAGE", "BodyLimit", "NulGuard", "log_disconnect"]

NUL_MESSAGE = "NUL characters (\\u0000) are not allowed"

Scope = MutableMapping[str, Any]

logger = logging.getLogger(__name__)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for bodies above ``max_bytes`` (by header or as they stream in);
    a client disconnecting mid-body is logged as one line, not as the app's error."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(send)
                return
        received = 0
        started = False
        complete = False
        cut_short = False

        async def limited_receive() -> Any:
            nonlocal received, complete, cut_short
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    raise _TooLarge
            elif message["type"] == "http.disconnect" and not complete:
                cut_short = True
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)
        except ClientDisconnect:
            cut_short = True
        if cut_short:
            log_disconnect(scope, received)

    async def _reject(self, send: Any) -> None:
        body = orjson.dumps(
            {"detail": f"request body larger than {self.max_bytes} bytes; send smaller batches"}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def log_disconnect(scope: Scope, received: int) -> None:
    """One warning line for a client gone before its whole body arrived."""
    expected = "?"
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            expected = value.decode("latin-1")
    logger.warning(
        "client disconnected before sending its whole body: %s %s, %d of %s bytes received",
        scope.get("method", "?"),
        scope.get("path", "?"),
        received,
        expected,
    )


class NulGuard:
    """ASGI middleware: 422 naming the path or query parameter that holds a NUL character."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            loc = _nul_location(scope)
            if loc is not None:
                body = orjson.dumps(
                    {"detail": [{"loc": loc, "msg": NUL_MESSAGE, "type": "value_error"}]}
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 422,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _nul_location(scope: Scope) -> list[str] | None:
    if "\x00" in scope.get("path", ""):
        return ["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" not in query and "\x00" not in query:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return ["query", name.replace("\x00", "")]
    return None
