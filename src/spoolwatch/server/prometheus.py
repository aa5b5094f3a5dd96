"""Prometheus metrics at ``/metrics`` (``prometheus_client``): ingestion counters, per-deployment
gauges, the agents.

Counters count since the process started; gauges are read from the store at scrape time
(the current hour of every deployment, and the fleet's latest heartbeats). The endpoint
needs the same bearer token as the API (Prometheus: ``authorization: {credentials: ...}``)
unless the service runs without authentication.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from spoolwatch.monitoring.health import ServiceHealth
from spoolwatch.server.auth import require_read
from spoolwatch.server.heartbeats_api import fleet_state
from spoolwatch.server.ingestion import IngestResult
from spoolwatch.server.writer import GroupStats
from spoolwatch.store.base import Store
from spoolwatch.store.deployments import list_deployments
from spoolwatch.store.hourly import service_health_in_hour

__all__ = ["Counters", "ServiceCollector", "render", "router"]

router = APIRouter(dependencies=[Depends(require_read)], tags=["service"])


#: What :func:`generate_latest` writes: the text format 0.0.4, which every Prometheus reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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

    def snapshot(self) -> tuple[dict[str, int], dict[str, int], int]:
        """Requests and rows by endpoint, and heartbeats, counted so far."""
        with self._lock:
            return dict(self.requests), dict(self.rows), self.heartbeats


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _by(
    family: CounterMetricFamily | GaugeMetricFamily, samples: Iterable[tuple[Sequence[str], float]]
) -> CounterMetricFamily | GaugeMetricFamily:
    for labels, value in samples:
        family.add_metric(list(labels), value)
    return family


class ServiceCollector(Collector):
    """Everything ``/metrics`` shows, read when scraped: the counters, the writer's group
    commits, the current hour of every deployment, and the agents' latest heartbeats."""

    def __init__(
        self,
        store: Store,
        counters: Counters,
        stale_seconds: float,
        groups: GroupStats | None = None,
    ) -> None:
        self.store = store
        self.counters = counters
        self.stale_seconds = stale_seconds
        self.groups = groups

    def collect(self) -> Iterator[Metric]:
        """The metric families, in the order they are exposed."""
        requests, rows, heartbeats = self.counters.snapshot()
        endpoint = ["endpoint"]
        yield _by(
            CounterMetricFamily(
                "spoolwatch_ingest_requests", "Ingestion requests folded.", labels=endpoint
            ),
            (([k], v) for k, v in sorted(requests.items())),
        )
        yield _by(
            CounterMetricFamily(
                "spoolwatch_ingest_rows", "Rows (or items) folded.", labels=endpoint
            ),
            (([k], v) for k, v in sorted(rows.items())),
        )
        yield _counter("spoolwatch_heartbeats", "Agent heartbeats received.", heartbeats)
        if self.groups is not None:
            yield from _group_metrics(self.groups)
        yield from self._deployments()
        yield from self._agents()

    def _deployments(self) -> Iterator[Metric]:
        hour = int(time.time()) // 3600 * 3600
        health = service_health_in_hour(self.store, hour)
        deployments = list_deployments(self.store)
        yield _gauge("spoolwatch_deployments", "Deployments.", len(deployments))
        hours = {
            key: GaugeMetricFamily(
                f"spoolwatch_deployment_hour_{key}", text, labels=["deployment", "name"]
            )
            for key, text in (
                ("predictions", "Predictions reported in the current hour."),
                ("requests", "Prediction requests in the current hour."),
                ("errors", "Failed prediction requests in the current hour."),
            )
        }
        for deployment in deployments:
            one = health.get(deployment.id) or ServiceHealth()
            labels = [deployment.id, deployment.name]
            hours["predictions"].add_metric(labels, one.predictions)
            hours["requests"].add_metric(labels, one.requests)
            hours["errors"].add_metric(labels, one.user_errors + one.system_errors)
        yield from hours.values()

    def _agents(self) -> Iterator[Metric]:
        fleet: dict[str, Any] = fleet_state(self.store, self.stale_seconds)
        live = [a for a in fleet["data"] if a["state"] == "running"]
        yield _gauge(
            "spoolwatch_agents_live", "Agents running, with a recent heartbeat.", len(live)
        )
        yield _by(
            GaugeMetricFamily(
                "spoolwatch_agent_backlog",
                "Backlog per agent and channel.",
                labels=["agent", "channel"],
            ),
            (
                ([a["agentId"], c], n)
                for a in live
                for c, n in sorted(a["backlog"].items())
                if n is not None
            ),
        )
        yield _by(
            GaugeMetricFamily(
                "spoolwatch_agent_records_per_second", "Agent throughput.", labels=["agent"]
            ),
            (([a["agentId"]], a["recordsPerSecond"] or 0.0) for a in live),
        )


def _group_metrics(groups: GroupStats) -> Iterator[Metric]:
    yield _counter(
        "spoolwatch_ingest_groups",
        "Group-commit transactions of the ingestion writer.",
        groups.groups,
    )
    yield _counter(
        "spoolwatch_ingest_group_requests",
        "Requests folded by group commits (a sliced request once per slice).",
        groups.requests,
    )
    yield _gauge(
        "spoolwatch_ingest_group_largest",
        "Requests in the largest group commit so far.",
        groups.largest,
    )


def render(
    store: Store, counters: Counters, stale_seconds: float, groups: GroupStats | None = None
) -> bytes:
    """The exposition text (Prometheus text format 0.0.4, by ``prometheus_client``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(store, counters, stale_seconds, groups))
    return generate_latest(registry)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def get_metrics(request: Request) -> Response:
    """Prometheus text exposition format 0.0.4."""
    state = request.app.state
    text = await run_in_threadpool(
        render,
        state.store,
        state.counters,
        state.settings.agent_stale_seconds,
        state.writer.stats,
    )
    return Response(text, media_type=CONTENT_TYPE)
