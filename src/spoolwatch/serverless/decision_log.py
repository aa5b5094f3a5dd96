"""One structured JSON log line per scaling decision of the Lambda agents."""

from __future__ import annotations

import logging
from typing import Any

import orjson

__all__ = ["log_decision"]

log = logging.getLogger("spoolwatch.serverless.worker")


def log_decision(event: str, /, **fields: Any) -> None:
    """One structured JSON log line (``event`` first, then the fields)."""
    fields.pop("event", None)
    log.info("%s", orjson.dumps({"event": event, **fields}, default=str).decode())
