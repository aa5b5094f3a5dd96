"""Log lines for machines: one JSON object per line (``--log-format json`` of
``spoolwatch serve`` and ``spoolwatch agent run``).

Every line holds ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and
``message``; ``request_id`` and ``deployment_id`` when known; ``exception`` when the record
carries one (the traceback as text); and, for uvicorn's access log, ``client``, ``method``,
``path`` and ``status``. Only what the record holds is written: request headers
(``Authorization`` among them) never reach a record.

The request and deployment come from the record itself (``extra={"request_id": ...}``, as
the agent's lines about one request give them) or else from :data:`request_id` and
:data:`deployment_id`, which the service sets for the request it is answering
(:mod:`spoolwatch.server.request_ids`). A thread that works for many requests at once (the
group-commit writer) starts with neither set, so its lines name no request rather than a
wrong one.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

__all__ = ["JsonFormatter", "LogFormat", "deployment_id", "forget_request", "request_id"]


class LogFormat(StrEnum):
    """How the service and the agent write their log lines (``--log-format``)."""

    text = "text"
    json = "json"


#: The id of the request being answered (the service sets it per request).
request_id: ContextVar[str | None] = ContextVar("spoolwatch_request_id", default=None)
#: The deployment the request being answered is about, when its path names one.
deployment_id: ContextVar[str | None] = ContextVar("spoolwatch_deployment_id", default=None)

# uvicorn's access records carry these positional arguments, in this order.
_ACCESS_ARGS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON; the message is rendered with its arguments."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line (newlines in values are escaped)."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        about = getattr(record, "request_id", None) or request_id.get()
        if about is not None:
            line["request_id"] = about
        deployment = getattr(record, "deployment_id", None) or deployment_id.get()
        if deployment is not None:
            line["deployment_id"] = deployment
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            line.update(zip(_ACCESS_ARGS, args, strict=True))
            del line["http_version"]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def forget_request() -> None:
    """Set no request and no deployment in the current context: for a thread that works for
    many requests (a thread may start with its creator's context: Python 3.14 can)."""
    request_id.set(None)
    deployment_id.set(None)
