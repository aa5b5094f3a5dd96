"""Request ids: every response names its request in ``X-Request-ID``, and so does every log
line written while the request is answered (``request_id`` of
:class:`~spoolwatch.logs.JsonFormatter`, uvicorn's access line included: uvicorn writes it
while the response starts, inside the request's task).

The client's ``X-Request-ID`` is kept when it is 1 to 128 characters of ``A-Z a-z 0-9 . _ : -``
(the agent sends one per attempt); anything else is ignored, never echoed into a header or a
log, and a new id (32 hex digits) is made, as for a request without one. A path under
``/api/v2/deployments/<id>/`` also sets the deployment id of the log lines.

A pure ASGI wrapper in front of the whole application, ingestion lane included: a header scan
and a context variable, a few microseconds a request (Starlette's ``BaseHTTPMiddleware``
would cost a task and a stream per request). The context variables are left set when the
application returns: the server's own line about the request (uvicorn's traceback of an
exception in it) follows in the same task, and the next request runs in a task of its own.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from spoolwatch.logs import deployment_id, request_id

__all__ = ["HEADER", "RequestIds"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The header, as ASGI servers hand request headers over (lower case).
HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_DEPLOYMENTS = "/api/v2/deployments/"


class RequestIds:
    """ASGI wrapper: the request's id in :data:`spoolwatch.logs.request_id` and in the
    response's ``x-request-id``; the deployment of its path in
    :data:`spoolwatch.logs.deployment_id` (see the module)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = None
        for name, value in scope["headers"]:
            if name == HEADER:
                if _SANE.fullmatch(value) is not None:
                    raw = bytes(value)
                break
        if raw is None:
            # Not uuid4 (os.urandom, a system call: 3 us); an id needs to be unique, not
            # unguessable. The module's generator is reseeded in a forked worker.
            rid = f"{random.getrandbits(128):032x}"
            raw = rid.encode("ascii")
        else:
            rid = raw.decode("ascii")
        request_id.set(rid)
        path: str = scope["path"]
        if path.startswith(_DEPLOYMENTS):
            deployment_id.set(path[len(_DEPLOYMENTS) :].partition("/")[0] or None)
        else:
            deployment_id.set(None)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, raw)]
            await send(message)

        await self.app(scope, receive, send_with_id)
