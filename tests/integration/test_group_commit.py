# ruff: noqa: F811 - the fixtures imported from test_server_api are redefined as parameters
"""Group commit: concurrent ingestion requests share write transactions, on SQLite and
PostgreSQL, and each one is answered, deduplicated and refused exactly as it would be alone.

The writer is held up by the test holding the deployment's write lock (SQLite: the write
transaction; PostgreSQL: the advisory lock), so the requests submitted meanwhile are all
waiting when it is released and must commit together.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import pytest

from spoolwatch.server.group_commit import UNFINISHED, fold_group
from spoolwatch.server.ingestion import IngestError, IngestKind, Ingestor, IngestResult
from spoolwatch.server.periods import resolve_period
from spoolwatch.server.query import drift_report, service_stats
from spoolwatch.server.settings import ServerSettings
from spoolwatch.server.writer import IngestWriter
from spoolwatch.store.base import Store, StoreUnavailable
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import create_deployment, get_deployment
from spoolwatch.store.engine import create_engine
from spoolwatch.store.training import baseline_from_frame
from tests.integration.test_server_api import (  # noqa: F401 - fixtures
    DEP,
    MODEL,
    postgres_database,
    session_store,
    store,
)

STAMP = "2026-11-24 10:00:00.000+0000"


def _deployment(store: Store) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"x": [float(i) for i in range(50)], "color": ["red", "blue"] * 25, "y": [1.0] * 50}
    )
    baseline, _ = baseline_from_frame(frame, target="y", target_type="regression")
    create_deployment(
        store,
        Deployment(id=DEP, name="d", model_id=MODEL, target_type="regression", baseline=baseline),
    )


def _stats(n: int) -> dict[str, Any]:
    return {"data": [{"timestamp": STAMP, "numPredictions": n, "executionTime": 1.0}]}


def _inputs(rows: int = 2, color: Any = "red") -> dict[str, Any]:
    return {
        "data": [
            {
                "timestamp": STAMP,
                "features": [
                    {"name": "x", "values": [1.0] * rows},
                    {"name": "color", "values": [color] * rows},
                ],
                "predictions": [1.0] * rows,
            }
        ]
    }


def _totals(store: Store) -> tuple[int, int, int]:
    """(requests, predictions, drift rows) folded into the deployment."""
    deployment = get_deployment(store, DEP)
    assert deployment is not None
    period = resolve_period(None, None, default_span=400 * 24 * 3600)
    metrics = service_stats(store, deployment, period, None, ServerSettings())["metrics"]
    drift = drift_report(store, deployment, period, None, "psi")["data"]
    rows = drift[0]["sampleSize"] if drift else 0
    return metrics["totalRequests"], metrics["totalPredictions"], rows


@contextmanager
def writer_held(store: Store, writer: IngestWriter) -> Iterator[None]:
    """Hold the deployment's write lock while one request keeps the writer busy, so what is
    submitted inside the block waits for the same next group."""
    with store.write() as conn:
        store.lock_deployment(conn, DEP)
        blocker = writer.submit(IngestKind.PREDICTION_REQUESTS, DEP, _stats(1))
        _until(lambda: writer.committing == 1)
        yield
        assert not blocker.done()
    blocker.result(timeout=60)


def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _submit_all(writer: IngestWriter, calls: list[tuple[Any, ...]]) -> list[Future[IngestResult]]:
    futures = []
    for kind, body, options in calls:
        futures.append(writer.submit(kind, DEP, body, **options))
    _until(lambda: writer.waiting == len(calls))
    return futures


@pytest.fixture()
def writer(store: Store) -> Iterator[IngestWriter]:
    _deployment(store)
    # One preparation thread: requests reach the group in the order they were submitted.
    w = IngestWriter(Ingestor(store, cache_seconds=0.0), prepare_threads=1)
    yield w
    w.close()


def test_requests_waiting_while_a_group_commits_share_one_transaction(
    store: Store, writer: IngestWriter
) -> None:
    calls = [
        (IngestKind.PREDICTION_REQUESTS, _stats(2), {"record_ids": [f"s{i}"]}) for i in range(10)
    ]
    calls += [
        (IngestKind.PREDICTION_INPUTS, _inputs(3), {"idempotency_key": f"k{i}"}) for i in range(5)
    ]
    with writer_held(store, writer):
        futures = _submit_all(writer, calls)
        assert not any(f.done() for f in futures)  # nothing is answered before its commit
    results = [f.result(timeout=60) for f in futures]
    assert [r.status for r in results] == [202] * 15
    assert [r.rows for r in results] == [1] * 10 + [3] * 5
    assert writer.stats.groups == 2 and writer.stats.largest == 15
    assert _totals(store) == (11, 21, 15)


def test_one_bad_request_in_a_group_fails_alone_naming_its_field(
    store: Store, writer: IngestWriter
) -> None:
    good = (IngestKind.PREDICTION_INPUTS, _inputs(2), {})
    # Nested category values pass the schema but cannot be binned: refused while folding.
    unbinnable = (IngestKind.PREDICTION_INPUTS, _inputs(2, color=["a"]), {"record_ids": ["bad"]})
    invalid = (IngestKind.PREDICTION_REQUESTS, {"data": [{"timestamp": STAMP}]}, {})
    with writer_held(store, writer):
        futures = _submit_all(writer, [good, unbinnable, good, good])
        futures.append(writer.submit(invalid[0], DEP, invalid[1]))
        _until(lambda: futures[-1].done())  # refused before it reaches the writer
    outcomes = [f.exception(timeout=60) or f.result() for f in futures]
    bad = outcomes[1]
    assert isinstance(bad, IngestError) and bad.status == 422
    assert bad.detail[0]["loc"] == ["body", "data", 0, "features", 1, "values"]
    invalid_error = outcomes[4]
    assert isinstance(invalid_error, IngestError) and invalid_error.status == 422
    assert {tuple(e["loc"]) for e in invalid_error.detail} >= {
        ("body", "data", 0, "numPredictions")
    }
    assert [o.status for o in outcomes if isinstance(o, IngestResult)] == [202, 202, 202]
    assert _totals(store)[2] == 6  # the three good requests, two rows each
    # The refused request's record id was not remembered: once fixed, it folds.
    fixed = writer.ingest(IngestKind.PREDICTION_INPUTS, DEP, _inputs(2), record_ids=["bad"])
    assert fixed.status == 202 and not fixed.duplicate
    assert _totals(store)[2] == 8


def test_repeats_within_one_group_fold_once(store: Store, writer: IngestWriter) -> None:
    stats = IngestKind.PREDICTION_REQUESTS
    two = {"data": [_stats(5)["data"][0], _stats(7)["data"][0]]}
    calls = [
        (stats, _stats(3), {"idempotency_key": "key-a"}),
        (stats, _stats(3), {"idempotency_key": "key-a"}),  # the same request again
        (stats, _stats(4), {"record_ids": ["r1"]}),
        (stats, _stats(4), {"record_ids": ["r1"], "idempotency_key": "other"}),  # re-merged
        (stats, two, {"record_ids": ["r2", "r3"]}),
        (
            stats,
            {"data": [_stats(7)["data"][0], _stats(9)["data"][0]]},
            {"record_ids": ["r3", "r4"]},
        ),
        (stats, _stats(1), {"idempotency_key": "key-a", "record_ids": ["x"]}),
        (IngestKind.PREDICTION_INPUTS, _inputs(2), {"idempotency_key": "key-a"}),  # other path
    ]
    with writer_held(store, writer):
        futures = _submit_all(writer, calls)
    outcomes = [f.exception(timeout=60) or f.result() for f in futures]
    first, again = outcomes[0], outcomes[1]
    assert isinstance(first, IngestResult) and isinstance(again, IngestResult)
    assert not first.duplicate and again.duplicate and again.body == first.body
    assert isinstance(outcomes[3], IngestResult) and outcomes[3].duplicate
    assert isinstance(outcomes[5], IngestResult) and outcomes[5].rows == 1  # r4 only
    assert isinstance(outcomes[6], IngestResult) and outcomes[6].duplicate
    conflict = outcomes[7]
    assert isinstance(conflict, IngestError) and conflict.status == 422
    assert writer.stats.largest == len(calls)
    # blocker 1 + key-a 3 + r1 4 + r2 5 + r3 7 + r4 9
    assert _totals(store)[:2] == (6, 1 + 3 + 4 + 5 + 7 + 9)


def test_store_outage_fails_every_request_of_the_group(store: Store) -> None:
    _deployment(store)
    ingestor = Ingestor(store)
    requests = [
        ingestor.prepare(IngestKind.PREDICTION_REQUESTS, DEP, _stats(1), idempotency_key=f"o{i}")
        for i in range(3)
    ]
    down = Store(create_engine("postgresql://postgres@127.0.0.1:9/nothing-listens"))
    outcomes = fold_group(down, requests)
    assert all(isinstance(o, StoreUnavailable) for o in outcomes)
    assert _totals(store)[0] == 0


def _big_stats(n: int) -> dict[str, Any]:
    return {
        "data": [{"timestamp": STAMP, "numPredictions": 1, "executionTime": 1.0} for _ in range(n)]
    }


@pytest.mark.parametrize("dedupe", ["idempotency_key", "record_ids", "neither"])
def test_large_body_is_folded_in_slices_and_answered_after_the_last(
    store: Store, dedupe: str
) -> None:
    _deployment(store)
    ingestor = Ingestor(store, slice_items=10)
    options: dict[str, Any] = {
        "idempotency_key": {"idempotency_key": "big"},
        "record_ids": {"record_ids": [f"b{i}" for i in range(35)]},
        "neither": {},
    }[dedupe]
    request = ingestor.prepare(IngestKind.PREDICTION_REQUESTS, DEP, _big_stats(35), **options)
    assert ingestor.commit([request]) == [UNFINISHED]
    assert _totals(store)[0] == 10  # the first slice is committed, the request unanswered
    assert ingestor.commit([request]) == [UNFINISHED]
    # The service dies here; the client's retry (same key or record ids) resumes.
    again = Ingestor(store, slice_items=10)
    result = again.ingest(IngestKind.PREDICTION_REQUESTS, DEP, _big_stats(35), **options)
    assert result.status == 202
    if dedupe == "neither":  # nothing can tell the retry from a new request
        assert _totals(store)[0] == 20 + 35
        return
    assert result.rows == 35 and _totals(store)[0] == 35
    replay = again.ingest(IngestKind.PREDICTION_REQUESTS, DEP, _big_stats(35), **options)
    assert replay.duplicate and _totals(store)[0] == 35


def test_copies_of_a_sliced_request_cooperate_and_fold_each_slice_once(store: Store) -> None:
    _deployment(store)
    writer = IngestWriter(Ingestor(store, slice_items=10), max_group_items=15)
    try:
        ids = [f"c{i}" for i in range(45)]
        futures = [
            writer.submit(IngestKind.PREDICTION_REQUESTS, DEP, _big_stats(45), record_ids=ids)
            for _ in range(3)
        ]
        small = writer.submit(IngestKind.PREDICTION_REQUESTS, DEP, _stats(100))
        results = [f.result(timeout=60) for f in futures]
        assert small.result(timeout=60).status == 202
    finally:
        writer.close()
    assert all(r.status == 202 for r in results)
    assert _totals(store)[:2] == (46, 145)
    assert writer.stats.groups >= 5  # slices of 10 items in groups of at most 15 items


def test_item_refused_in_a_later_slice_is_named_at_its_position_in_the_body(
    store: Store,
) -> None:
    _deployment(store)
    ingestor = Ingestor(store, slice_items=10)
    items = [_inputs(1)["data"][0] for _ in range(25)]
    items[13] = _inputs(1, color=["nested"])["data"][0]
    with pytest.raises(IngestError) as caught:
        ingestor.ingest(
            IngestKind.PREDICTION_INPUTS,
            DEP,
            {"data": items},
            record_ids=[f"p{i}" for i in range(25)],
        )
    detail = caught.value.detail[0]
    assert detail["loc"] == ["body", "data", 13, "features", 1, "values"]
    assert detail["msg"].startswith("data.13.features.1.values:")
    assert _totals(store)[2] == 10  # the first slice stays folded, its records remembered
