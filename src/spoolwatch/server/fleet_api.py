"""The serverless fleet on AWS, as the service shows it: ``GET /api/v2/spoolwatch/fleet/``.

The same reading as ``spoolwatch fleet status`` (backlog from SQS, leases, the breaker and
the wake trigger's flag from DynamoDB), served only when the service was given the fleet's
queues and table. A reading, or the failure to get one, is reused for ``fleet_cache_seconds``
so dashboard refreshes and several viewers cost AWS one reading per period.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from spoolwatch.errors import MissingExtra, SpoolwatchError
from spoolwatch.server.auth import require_read
from spoolwatch.server.settings import ServerSettings

__all__ = ["FleetReader", "FleetUnavailable", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/v2/spoolwatch", dependencies=[Depends(require_read)], tags=["fleet"]
)

#: Reads the fleet the settings name; ``clients`` keeps its clients between readings.
FleetRead = Callable[[ServerSettings, dict[str, Any]], dict[str, Any]]


class FleetUnavailable(Exception):
    """The fleet could not be read; the message says why (never holds credentials)."""


class FleetReader:
    """Reads the fleet at most once per ``cache_seconds``; concurrent callers share a reading."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        read: FleetRead,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._read = read
        self._clock = clock
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any] | FleetUnavailable] | None = None

    def status(self) -> dict[str, Any]:
        """The latest reading (``FleetStatus.as_dict()``); raises :class:`FleetUnavailable`."""
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= self.settings.fleet_cache_seconds:
                self._cached = (now, self._fresh())
            outcome = self._cached[1]
        if isinstance(outcome, FleetUnavailable):
            # A new exception per caller: a shared one would collect every caller's traceback.
            raise FleetUnavailable(str(outcome))
        return outcome

    def _fresh(self) -> dict[str, Any] | FleetUnavailable:
        try:
            return self._read(self.settings, self._clients)
        except MissingExtra as exc:
            return FleetUnavailable(f"the serverless fleet cannot be read: {exc}")
        except SpoolwatchError as exc:
            logger.warning("reading the serverless fleet failed: %s", exc)
            return FleetUnavailable(f"the serverless fleet cannot be read from AWS: {exc}")


@router.get(
    "/fleet/",
    summary="The serverless fleet on AWS",
    responses={
        404: {"description": "the service was started without a serverless fleet"},
        503: {"description": "AWS cannot be reached, or boto3 is not installed"},
    },
)
def get_serverless_fleet(request: Request) -> dict[str, Any]:
    """Backlog (visible, in flight), recruits waiting, leases held and by whom, the circuit
    breaker and its recent failures, and whether the wake trigger is armed, read from SQS and
    DynamoDB (cached for a few seconds)."""
    reader: FleetReader | None = getattr(request.app.state, "fleet_reader", None)
    if reader is None:
        raise HTTPException(
            status_code=404,
            detail="no serverless fleet is configured: start the service with "
            "--fleet-data-queue, --fleet-agent-queue and --fleet-table",
        )
    try:
        return reader.status()
    except FleetUnavailable as exc:
        raise HTTPException(
            status_code=503, detail=str(exc), headers={"Retry-After": "5"}
        ) from None
