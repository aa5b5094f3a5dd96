"""Health and readiness probes, for Kubernetes and load balancers; no token needed.

``GET /healthz`` answers 200 while the process serves HTTP at all (liveness: restart it
when this fails). ``GET /readyz`` answers 200 when the service can do its work: the
database answers on a connection of its own, its schema is at this release's migration,
and the ingest writer takes requests; otherwise 503 naming what is wrong (readiness: send
it no traffic until it passes). Both run on the event loop or on a thread of their own,
so a service busy with ingestion and reads still answers them in milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

__all__ = ["router"]

router = APIRouter(tags=["service"])
logger = logging.getLogger(__name__)

#: One thread for the readiness check: never queued behind the routes' threads.
_checker = ThreadPoolExecutor(1, thread_name_prefix="spoolwatch-readiness")


@router.get("/healthz", summary="Liveness: the process serves HTTP")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database reachable, schema current, ingest writer running",
    responses={503: {"description": "not ready; `problems` names what is wrong"}},
)
async def readyz(request: Request) -> JSONResponse:
    problems, details = [], []
    if (problem := request.app.state.writer.problem) is not None:
        problems.append(problem)
        details.append(problem)
    store = request.app.state.store
    loop = asyncio.get_running_loop()
    if (found := await loop.run_in_executor(_checker, store.readiness)) is not None:
        problems.append(found[0])
        details.append(found[1])
    _log_change(request.app.state, details)
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ok"})


def _log_change(state: Any, details: list[str]) -> None:
    """Log readiness when it changes, not at every probe."""
    previous = getattr(state, "readiness_details", [])
    if details == previous:
        return
    state.readiness_details = details
    if details:
        logger.warning("not ready: %s", "; ".join(details))
    elif previous:
        logger.info("ready again")
