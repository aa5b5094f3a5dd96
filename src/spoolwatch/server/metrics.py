"""Prometheus text format at ``/metrics``: ingestion counters, per-deployment gauges, fleet.

Counters count since the process started; gauges are read from the store at scrape time
(the current hour of every deployment, and the fleet's latest heartbeats). The endpoint
needs the same bearer token as the API (Prometheus: ``authorization: {credentials: ...}``)
unless the service runs without authentication.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from spoolwatch.monitoring.health import ServiceHealth
from spoolwatch.server.auth import require_read
from spoolwatch.server.heartbeats_api import fleet_state
from spoolwatch.server.ingestion import IngestResult
from spoolwatch.server.writer import GroupStats
from spoolwatch.store.base import Store
from spoolwatch.store.deployments import list_deployments
from spoolwatch.store.hourly import service_health_in_hour

__all__ = ["Counters", "render", "router"]

router = APIRouter(dependencies=[Depends(require_read)], tags=["service"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


class Counters:
    """Process-wide ingestion counters (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.rows: Counter[str] = Counter()
        self.heartbeats = 0
        self.started = time.time()

    def ingested(self, result: IngestResult) -> None:
        """Count one folded request."""
        kind = result.kind.value if result.kind is not None else "unknown"
        with self._lock:
            self.requests[kind] += 1
            self.rows[kind] += result.rows

    def heartbeat(self) -> None:
        """Count one agent heartbeat."""
        with self._lock:
            self.heartbeats += 1


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self, name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {float(value)!r}")


def _group_metrics(w: _Writer, groups: GroupStats) -> None:
    w.metric(
        "spoolwatch_ingest_groups_total",
        "counter",
        "Group-commit transactions of the ingestion writer.",
        [({}, groups.groups)],
    )
    w.metric(
        "spoolwatch_ingest_group_requests_total",
        "counter",
        "Requests folded by group commits (a sliced request once per slice).",
        [({}, groups.requests)],
    )
    w.metric(
        "spoolwatch_ingest_group_largest",
        "gauge",
        "Requests in the largest group commit so far.",
        [({}, groups.largest)],
    )


def render(
    store: Store, counters: Counters, stale_seconds: float, groups: GroupStats | None = None
) -> str:
    """The exposition text."""
    w = _Writer()
    with counters._lock:
        requests, rows = dict(counters.requests), dict(counters.rows)
        heartbeats = counters.heartbeats
    w.metric(
        "spoolwatch_ingest_requests_total",
        "counter",
        "Ingestion requests folded.",
        [({"endpoint": k}, v) for k, v in sorted(requests.items())],
    )
    w.metric(
        "spoolwatch_ingest_rows_total",
        "counter",
        "Rows (or items) folded.",
        [({"endpoint": k}, v) for k, v in sorted(rows.items())],
    )
    w.metric(
        "spoolwatch_heartbeats_total", "counter", "Agent heartbeats received.", [({}, heartbeats)]
    )
    if groups is not None:
        _group_metrics(w, groups)
    hour = int(time.time()) // 3600 * 3600
    health = service_health_in_hour(store, hour)
    deployments = list_deployments(store)
    samples: dict[str, list[tuple[dict[str, str], float]]] = {
        "predictions": [],
        "requests": [],
        "errors": [],
    }
    for deployment in deployments:
        one = health.get(deployment.id) or ServiceHealth()
        labels = {"deployment": deployment.id, "name": deployment.name}
        samples["predictions"].append((labels, one.predictions))
        samples["requests"].append((labels, one.requests))
        samples["errors"].append((labels, one.user_errors + one.system_errors))
    w.metric("spoolwatch_deployments", "gauge", "Deployments.", [({}, len(deployments))])
    for key, text in (
        ("predictions", "Predictions reported in the current hour."),
        ("requests", "Prediction requests in the current hour."),
        ("errors", "Failed prediction requests in the current hour."),
    ):
        w.metric(f"spoolwatch_deployment_hour_{key}", "gauge", text, samples[key])
    fleet: dict[str, Any] = fleet_state(store, stale_seconds)
    live = [a for a in fleet["data"] if a["state"] == "running"]
    w.metric(
        "spoolwatch_agents_live",
        "gauge",
        "Agents running, with a recent heartbeat.",
        [({}, len(live))],
    )
    w.metric(
        "spoolwatch_agent_backlog",
        "gauge",
        "Backlog per agent and channel.",
        [
            ({"agent": a["agentId"], "channel": c}, n)
            for a in live
            for c, n in sorted(a["backlog"].items())
            if n is not None
        ],
    )
    w.metric(
        "spoolwatch_agent_records_per_second",
        "gauge",
        "Agent throughput.",
        [({"agent": a["agentId"]}, a["recordsPerSecond"] or 0.0) for a in live],
    )
    return "\n".join(w.lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def get_metrics(request: Request) -> PlainTextResponse:
    """Prometheus text exposition format 0.0.4."""
    state = request.app.state
    text = await run_in_threadpool(
        render,
        state.store,
        state.counters,
        state.settings.agent_stale_seconds,
        state.writer.stats,
    )
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
