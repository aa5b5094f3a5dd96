"""Benchmark of the accuracy reads with 200k and 2M joined rows: do they stay flat?

For each size, a fresh SQLite database gets one binary deployment whose joined rows
(prediction and actual) are spread over the last 24 hours, plus a quarter as many
predictions still waiting for their actual and 1 actual without a prediction per 200 joined
rows. The rows, their hourly accuracy aggregates and the count of actuals without a
prediction are written straight through the store's tables (what ingestion or migrations 7
and 9 would leave), which is much faster than ingesting them.

Timed, as the endpoints do it without HTTP (median of ``--repeat`` runs):

* ``accuracy``: ``GET .../accuracy/`` over the default period (7 days, daily buckets);
* ``list``: ``GET /deployments/`` (every deployment with its health over the last day,
  accuracy judged hourly) with five deployments, one of them holding the rows;
* ``detail``: ``GET /deployments/{id}/`` of the deployment holding the rows;
* ``rows (before)``: the row-by-row metrics over the same period that the accuracy read used
  to compute, for comparison (``--no-rows`` leaves it out).

Prints the times and the ratio of the larger size to the smaller (target: ≤ 1.2, and under
100 ms). Run on one core::

    taskset -c 0 .venv/bin/python bench/accuracy_reads.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.server.outcomes import accuracy_report, compute_accuracy
from spoolwatch.server.periods import resolve_period
from spoolwatch.server.query import deployment_health
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store import schema
from spoolwatch.store.accuracy_joined import joined_rows
from spoolwatch.store.base import Store, open_store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import create_deployment, list_deployments

CLASSES = ("no", "yes")
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
_CHUNK = 100_000


def _seed(store: Store, joined: int, now: float) -> Deployment:
    """Five deployments; the first holds ``joined`` joined rows over the last day."""
    deployments = [
        create_deployment(
            store,
            Deployment(
                f"650a1b2c3d4e5f6a7b8c9d{i:02x}", f"d{i}", MODEL, "binary", class_names=CLASSES
            ),
        )
        for i in range(5)
    ]
    target = deployments[0]
    rng = np.random.default_rng(0)
    waiting = joined // 4
    total = joined + waiting
    first_hour = int(now) // 3600 * 3600 - 23 * 3600
    at = first_hour + rng.integers(0, 24 * 3600, total)
    prob = rng.random(total)
    labels = np.where(rng.random(total) < 0.2 + 0.6 * prob, "yes", "no")
    with store.write() as conn:
        for start in range(0, total, _CHUNK):
            stop = min(start + _CHUNK, total)
            conn.execute(
                schema.accuracy_rows.insert(),
                [
                    {
                        "deployment_id": target.id,
                        "association_id": f"a{i:09d}",
                        "model_id": MODEL,
                        "predicted_at": int(at[i]),
                        "predicted_value": float(prob[i]),
                        "actual_label": str(labels[i]) if i < joined else None,
                    }
                    for i in range(start, stop)
                ],
            )
        conn.execute(
            schema.accuracy_rows.insert(),
            [
                {"deployment_id": target.id, "association_id": f"o{i}", "actual_label": "yes"}
                for i in range(orphans(joined))
            ],
        )
        conn.execute(
            schema.accuracy_orphans.insert(),
            [{"deployment_id": target.id, "actuals": orphans(joined)}],
        )
        conn.execute(schema.accuracy_hourly.insert(), _aggregates(target, at, prob, labels, joined))
    return target


def orphans(joined: int) -> int:
    """Actuals without a prediction seeded beside ``joined`` joined rows: 1 in 200."""
    return joined // 200


def _aggregates(
    deployment: Deployment, at: Any, prob: Any, labels: Any, joined: int
) -> list[dict[str, Any]]:
    """The hourly aggregates of the seeded rows, as ingestion would have folded them."""
    hours = at // 3600 * 3600
    rows = []
    for hour in np.unique(hours):
        in_hour = hours == hour
        pairs = in_hour.copy()
        pairs[joined:] = False
        agg = AccuracyAggregate.of_pairs("binary", CLASSES, prob[pairs], labels[pairs])
        agg.predicted, agg.actualized = int(in_hour.sum()), int(pairs.sum())
        rows.append(
            {
                "deployment_id": deployment.id,
                "model_id": MODEL,
                "hour": int(hour),
                "aggregate": orjson.dumps(agg.to_dict()).decode(),
            }
        )
    return rows


def _median_ms(work: Callable[[], object], repeat: int) -> float:
    work()  # warm caches and connections
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def _measure(joined: int, repeat: int, with_rows: bool) -> dict[str, float]:
    now = time.time()
    settings = ServerSettings()
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(f"sqlite:///{Path(directory) / 'bench.db'}")
        try:
            began = time.perf_counter()
            deployment = _seed(store, joined, now)
            print(f"  seeded {joined:,} joined rows in {time.perf_counter() - began:.1f} s")
            period = resolve_period(None, None, None, now=now)

            def rows_before() -> object:
                with store.read() as conn:
                    rows = joined_rows(conn, deployment, period.start, period.end, None)
                return compute_accuracy(deployment, rows)

            work: dict[str, Callable[[], object]] = {
                "accuracy": lambda: accuracy_report(store, deployment, period, None, settings),
                "list": lambda: [
                    deployment_health(store, d, settings, now=now) for d in list_deployments(store)
                ],
                "detail": lambda: deployment_health(store, deployment, settings, now=now),
            }
            if with_rows:
                work["rows (before)"] = rows_before
            report = accuracy_report(store, deployment, period, None, settings)
            assert report["sampleSize"] == joined, report["sampleSize"]
            assert report["actualsWithoutPredictions"] == orphans(joined), report
            return {name: _median_ms(one, repeat) for name, one in work.items()}
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    """Run both sizes and print the times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=200_000)
    parser.add_argument("--large", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-rows", action="store_true", help="skip the row-by-row read")
    args = parser.parse_args(argv)
    results = {}
    for size in (args.small, args.large):
        print(f"{size:,} joined rows")
        results[size] = _measure(size, args.repeat, not args.no_rows)
    small, large = results[args.small], results[args.large]
    print(f"\n{'read':<15}{args.small:>12,} {args.large:>12,}   ratio")
    for name in small:
        ratio = large[name] / small[name]
        print(f"{name:<15}{small[name]:>10.1f}ms {large[name]:>10.1f}ms   {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
