"""The Lambda entry point: ``spoolwatch.serverless.handler.lambda_handler``.

The work is done by :class:`~spoolwatch.serverless.worker.ServerlessAgent`, built once per
execution environment from the environment variables (see :mod:`spoolwatch.serverless.settings`)
and reused by warm invocations.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from spoolwatch.runtime import tune_gc
from spoolwatch.serverless.context import InvocationContext
from spoolwatch.serverless.worker import ServerlessAgent

__all__ = ["lambda_handler", "reset"]

_worker: ServerlessAgent | None = None
_lock = threading.Lock()


def _get_worker() -> ServerlessAgent:
    global _worker
    with _lock:
        if _worker is None:
            from spoolwatch.serverless.setup import from_env

            logging.getLogger("spoolwatch").setLevel(logging.INFO)
            _worker = from_env()
            tune_gc()  # the execution environment is the agent's own
        return _worker


def lambda_handler(event: dict[str, Any], context: InvocationContext) -> dict[str, Any]:
    """Handle the schedule or a batch of agent-queue messages."""
    return _get_worker().handle(event, context)


def reset() -> None:
    """Forget the cached worker (tests change the environment between runs)."""
    global _worker
    with _lock:
        _worker = None
