"""Log lines for machines: one JSON object per line (``spoolwatch serve --log-format json``).

Every line holds ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and
``message``; ``exception`` when the record carries one (the traceback as text); and, for
uvicorn's access log, ``client``, ``method``, ``path`` and ``status``. Only what the record
holds is written: request headers (``Authorization`` among them) never reach a record.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["JsonFormatter"]

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
