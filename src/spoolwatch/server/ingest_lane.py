"""The direct lane: ingestion POSTs answered without FastAPI's routing and dependencies.

An agent's requests are small and many (40 clients of 10-row bodies is an ordinary fleet);
for them FastAPI's middleware stack, route matching over every route, dependency solving
and response wrapping cost more CPU than folding the body. This ASGI wrapper, in front of
the whole FastAPI application (:class:`spoolwatch.server.app.ServiceApp`), answers the
ingestion routes of :mod:`spoolwatch.server.ingest_api` itself when a request is plainly
well-formed: ``POST`` to one of their paths exactly, a ``Content-Length`` within the body
limit, no NUL character in the path, and a token the
:class:`~spoolwatch.server.auth.TokenChecker` has cached with the ``ingest`` or ``admin``
scope (or auth off); a ``read`` token goes to FastAPI, which answers 403. It reads
the body and calls :func:`spoolwatch.server.ingest_api.answer`, the routes' own code, so a bad body
gets the same 4xx naming the field. Its own limits are FastAPI's middlewares' (body size,
NUL in the path) applied up front; an exception in it reaches the server (uvicorn answers
500 and logs it), as one in FastAPI's error middleware would.

Anything else — an unknown or uncached token, a missing length, a trailing-slash variant,
any other path — goes on to FastAPI unchanged, with the body already read handed on, so
every refusal (401, 413, 422, 404, redirects) comes from one place. The routes stay
registered there too, and documented in the OpenAPI schema.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.requests import Request

from spoolwatch.server.auth import TokenChecker, bearer_token
from spoolwatch.server.ingest_api import absolute_location, answer, store_unavailable
from spoolwatch.server.ingest_request import IngestKind
from spoolwatch.server.limits import log_disconnect
from spoolwatch.server.writer import IngestWriter
from spoolwatch.store.base import StoreUnavailable
from spoolwatch.store.tokens import TokenScope

__all__ = ["IngestLane"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_KINDS = {
    "predictionRequests": IngestKind.PREDICTION_REQUESTS,
    "predictionInputs": IngestKind.PREDICTION_INPUTS,
    "predictionStats": IngestKind.PREDICTION_STATS,
    "actuals": IngestKind.ACTUALS,
}
_DEPLOYMENT_PATH = re.compile(
    r"/api/v2/deployments/([^/]+)/(?:(predictionRequests|predictionInputs|predictionStats"
    r"|actuals)|customMetrics/([^/]+))/fromJSON/"
)
_EVENTS_PATH = "/api/v2/remoteEvents/"
_JSON = (b"content-type", b"application/json")


def _route(path: str) -> tuple[IngestKind, str | None, str | None] | None:
    """The ingestion route of ``path``: kind, deployment id and metric id; or ``None``."""
    if path == _EVENTS_PATH:
        return IngestKind.REMOTE_EVENTS, None, None
    match = _DEPLOYMENT_PATH.fullmatch(path)
    if match is None:
        return None
    deployment_id, name, metric_id = match.groups()
    if name is not None:
        return _KINDS[name], deployment_id, None
    return IngestKind.CUSTOM_METRIC, deployment_id, metric_id


class IngestLane:
    """ASGI wrapper answering plainly well-formed ingestion POSTs directly (see module);
    ``app`` (FastAPI) answers the rest."""

    def __init__(
        self,
        app: App,
        *,
        writer: IngestWriter,
        checker: TokenChecker | None,
        max_bytes: int,
    ) -> None:
        self.app = app
        self.writer = writer
        self.checker = checker
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._plain(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        if not self._authorized(headers.get("authorization")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                log_disconnect(scope, sum(map(len, chunks)))
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if len(body) > self.max_bytes:
            await self.app(scope, _replay(body), send)
            return
        kind, deployment_id, metric_id = route
        try:
            status, content, location = await answer(
                self.writer, kind, deployment_id, body, headers, metric_id
            )
        except StoreUnavailable as exc:
            await store_unavailable(exc)(scope, receive, send)
            return
        extra = []
        if location:
            url = absolute_location(Request(scope), location)
            extra.append((b"location", url.encode("latin-1")))
        payload = orjson.dumps(content)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_JSON, (b"content-length", str(len(payload)).encode()), *extra],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _plain(self, scope: Scope) -> tuple[IngestKind, str | None, str | None] | None:
        """The route of a plainly well-formed ingestion POST, or ``None`` to let FastAPI
        answer it."""
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("root_path"):
            return None
        path: str = scope.get("path", "")
        if "\x00" in path:
            return None
        route = _route(path)
        if route is None:
            return None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                return route if value.isdigit() and int(value) <= self.max_bytes else None
        return None

    def _authorized(self, header: str | None) -> bool:
        """Whether the token is known to allow ingestion without a lookup (auth off, or
        cached with the ``ingest`` or ``admin`` scope)."""
        if self.checker is None:
            return True
        token = bearer_token(header)
        if token is None:
            return False
        verdict = self.checker.cached(token)
        return verdict is not None and verdict is not False and verdict.allows(TokenScope.INGEST)


def _replay(body: bytes) -> Receive:
    """A ``receive`` handing on a body already read, then waiting for the disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
