"""Agents post heartbeats; the service keeps each agent's latest state (the Agents page).

Heartbeats older than a day are dropped when new ones arrive, so the table stays small.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from spoolwatch.server import schemas
from spoolwatch.server.auth import require_ingest, require_read
from spoolwatch.server.periods import to_datetime
from spoolwatch.store.base import Store
from spoolwatch.store.heartbeats import latest_heartbeats, store_heartbeat

__all__ = ["fleet_state", "record_heartbeat", "router"]

router = APIRouter(prefix="/api/v2/spoolwatch", tags=["fleet"])


def record_heartbeat(
    store: Store, heartbeat: schemas.AgentHeartbeat, *, now: float | None = None
) -> None:
    """Keep ``heartbeat`` as its agent's latest state."""
    now = time.time() if now is None else now
    store_heartbeat(store, heartbeat.agentId, orjson.dumps(heartbeat.model_dump()).decode(), now)


def _total_backlog(backlog: dict[str, int | None]) -> int:
    return sum(v for v in backlog.values() if v)


def fleet_state(store: Store, stale_seconds: float, *, now: float | None = None) -> dict[str, Any]:
    """Every agent's latest heartbeat, newest first (see :class:`schemas.FleetResponse`)."""
    now = time.time() if now is None else now
    agents = []
    for row in latest_heartbeats(store):
        body = orjson.loads(row.body)
        known = {"agentId", "host", "runtime", "recordsPerSecond", "backlog", "errors", "state"}
        age = max(0.0, now - row.received_at)
        stopped = body.get("state") == "stopped"
        agents.append(
            {
                "agentId": row.agent_id,
                "receivedAt": to_datetime(row.received_at),
                "ageSeconds": round(age, 3),
                "stale": age > stale_seconds,
                "state": "stopped" if stopped else "silent" if age > stale_seconds else "running",
                "host": body.get("host"),
                "runtime": body.get("runtime"),
                "recordsPerSecond": body.get("recordsPerSecond"),
                "backlog": body.get("backlog") or {},
                "errors": body.get("errors"),
                "details": {k: v for k, v in body.items() if k not in known},
            }
        )
    # A stopped agent's last backlog and rate are history, not the fleet's present load.
    live = [a for a in agents if a["state"] == "running"]
    return {
        "count": len(agents),
        "totalBacklog": sum(_total_backlog(a["backlog"]) for a in live),
        "totalRecordsPerSecond": sum(a["recordsPerSecond"] or 0.0 for a in live),
        "data": agents,
    }


@router.post(
    "/agents/heartbeat/",
    status_code=202,
    summary="An agent's heartbeat",
    dependencies=[Depends(require_ingest)],
)
async def post_heartbeat(request: Request, heartbeat: schemas.AgentHeartbeat) -> dict[str, str]:
    """Record records/s, backlog per channel, errors and where the agent runs."""
    await run_in_threadpool(record_heartbeat, request.app.state.store, heartbeat)
    request.app.state.counters.heartbeat()
    return {"message": "accepted"}


@router.get(
    "/agents/",
    response_model=schemas.FleetResponse,
    summary="The agent fleet",
    dependencies=[Depends(require_read)],
)
def get_fleet(request: Request) -> dict[str, Any]:
    """The latest heartbeat of every agent seen in the last day; ``stale`` after
    ``agent_stale_seconds`` without one; ``state`` running, stopped (its last heartbeat said
    so) or silent (stale without having said it stopped)."""
    return fleet_state(request.app.state.store, request.app.state.settings.agent_stale_seconds)
