# ruff: noqa: F811 - the fixtures imported from test_server_api are redefined as parameters
"""Concurrent ingestion into one deployment loses no update, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

from spoolwatch.server.ingestion import IngestKind, Ingestor
from spoolwatch.server.periods import resolve_period
from spoolwatch.server.query import drift_report, service_stats
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import create_deployment, get_deployment
from spoolwatch.store.training import baseline_from_frame
from tests.integration.test_server_api import (  # noqa: F401 - fixtures
    DEP,
    MODEL,
    postgres_database,
    session_store,
    store,
)

THREADS = 4
POSTS = 8


def test_parallel_folds_into_the_same_hours_add_up_exactly(store: Store) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [float(i) for i in range(50)], "y": [1.0] * 50})
    baseline, _ = baseline_from_frame(frame, target="y", target_type="regression")
    create_deployment(
        store,
        Deployment(id=DEP, name="d", model_id=MODEL, target_type="regression", baseline=baseline),
    )
    ingestor = Ingestor(store)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(POSTS):
                hour = 9 + (i % 2)
                stamp = f"2026-11-24 {hour:02d}:00:00.000+0000"
                ingestor.ingest(
                    IngestKind.PREDICTION_REQUESTS,
                    DEP,
                    {"data": [{"timestamp": stamp, "numPredictions": 3, "executionTime": 1.0}]},
                    idempotency_key=f"t{n}-{i}",
                )
                ingestor.ingest(
                    IngestKind.PREDICTION_INPUTS,
                    DEP,
                    {
                        "data": [
                            {
                                "timestamp": stamp,
                                "features": [{"name": "x", "values": [1.0, 2.0]}],
                                "predictions": [1.0, 1.0],
                            }
                        ]
                    },
                    record_ids=[f"r{n}-{i}"],
                )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    deployment = get_deployment(store, DEP)
    assert deployment is not None
    period = resolve_period(None, None, default_span=400 * 24 * 3600)
    stats = service_stats(store, deployment, period, None, ServerSettings())["metrics"]
    assert stats["totalRequests"] == THREADS * POSTS
    assert stats["totalPredictions"] == 3 * THREADS * POSTS
    drift = drift_report(store, deployment, period, None, "psi")["data"][0]
    assert drift["sampleSize"] == 2 * THREADS * POSTS
