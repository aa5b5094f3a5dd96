"""Payload validation speed: ``validate_record`` on typical records, per data type.

The main figure is a 25-row, 10-feature PREDICTIONS_DATA record (the agent's hot path);
the others are the remaining data types the agent validates. ``validate_payload`` (which
builds the pydantic model, for typed access) is shown beside it for comparison::

    .venv/bin/python bench/record_validation.py
    .venv/bin/python bench/record_validation.py --rows 100 --features 30
"""

from __future__ import annotations

import argparse
import random
import sys
import timeit
from collections.abc import Callable
from typing import Any

from spoolwatch.records import DataType, Record, validate_payload, validate_record

STAMP = "2026-11-24 20:01:33.377+0100"


def _predictions(rows: int, features: int, rng: random.Random) -> dict[str, Any]:
    columns: dict[str, list[Any]] = {}
    for f in range(features):
        kind = f % 3
        if kind == 0:
            columns[f"num_{f}"] = [round(rng.uniform(0, 100), 2) for _ in range(rows)]
        elif kind == 1:
            columns[f"count_{f}"] = [rng.randrange(50) for _ in range(rows)]
        else:
            columns[f"cat_{f}"] = [rng.choice(["north", "south", "east"]) for _ in range(rows)]
    return {
        "timestamp": STAMP,
        "modelId": "650a1b2c3d4e5f6a7b8c9d0f",
        "features": columns,
        "predictions": [round(rng.random(), 4) for _ in range(rows)],
        "associationIds": [f"row-{i}" for i in range(rows)],
    }


def _payloads(rows: int, features: int) -> list[tuple[str, DataType, dict[str, Any]]]:
    rng = random.Random(7)
    stats = {"timestamp": STAMP, "numPredictions": rows, "executionTime": 12.5}
    actuals = {
        "actualsList": [
            {"associationId": f"row-{i}", "actualValue": rng.random(), "wasActedOn": False}
            for i in range(rows)
        ]
    }
    metric = {
        "customMetricId": "650a1b2c3d4e5f6a7b8c9d10",
        "buckets": [{"timestamp": STAMP, "value": rng.random()} for _ in range(rows)],
    }
    event = {"timestamp": STAMP, "eventType": "deploymentInfo", "message": "started"}
    return [
        (
            f"PREDICTIONS_DATA {rows}x{features}",
            DataType.PREDICTIONS_DATA,
            _predictions(rows, features, rng),
        ),
        ("DEPLOYMENT_STATS", DataType.DEPLOYMENT_STATS, stats),
        (f"ACTUALS_DATA {rows}", DataType.ACTUALS_DATA, actuals),
        (f"CUSTOM_METRIC {rows}", DataType.CUSTOM_METRIC, metric),
        ("EVENT", DataType.EVENT, event),
    ]


def _per_call_us(call: Callable[[], object]) -> float:
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    best = min(timer.repeat(repeat=5, number=number))
    return best / number * 1e6


def main() -> None:
    """Time each payload through both functions and print microseconds per call."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--features", type=int, default=10)
    args = parser.parse_args()
    print(f"payload validation, best of 5 (python {sys.version.split()[0]})")
    print(f"{'payload':<26} {'validate_record':>18} {'validate_payload':>18} {'ratio':>7}")
    for name, data_type, payload in _payloads(args.rows, args.features):
        record = Record("650a1b2c3d4e5f6a7b8c9d0e", data_type, payload, id="bench")
        fast = _per_call_us(lambda record=record: validate_record(record))
        typed = _per_call_us(
            lambda data_type=data_type, payload=payload: validate_payload(data_type, payload)
        )
        print(f"{name:<26} {fast:>15.2f} us {typed:>15.2f} us {typed / fast:>6.1f}x")


if __name__ == "__main__":
    main()
