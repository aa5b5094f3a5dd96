"""``spoolwatch serve`` with group commit: reads do not queue behind ingestion, and a service
killed while requests wait for a shared transaction loses none that was answered 202."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
DAY = {"start": "2026-11-24T00:00:00Z", "end": "2026-11-25T00:00:00Z"}
STATS_PATH = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"

pytestmark = pytest.mark.slow


def _body(n: int = 1) -> dict[str, Any]:
    item = {"timestamp": "2026-11-24 10:00:00.000+0000", "numPredictions": n, "executionTime": 1}
    return {"data": [item]}


@contextmanager
def serving(db: str, *extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``spoolwatch serve --no-auth`` on a free port; yields its URL and process."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spoolwatch",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--no-auth",
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "SPOOLWATCH_DB": ""},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/v2/version/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline
                time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        assert process.stderr is not None
        process.stderr.close()


def _create_deployment(url: str) -> None:
    body = {"id": DEP, "modelId": MODEL, "label": "d", "targetType": "regression"}
    response = httpx.post(url + "/api/v2/deployments/", json=body, timeout=30)
    assert response.status_code == 201, response.text


def _predictions(url: str) -> int:
    stats = httpx.get(url + f"/api/v2/deployments/{DEP}/serviceStats/", params=DAY, timeout=30)
    assert stats.status_code == 200, stats.text
    return int(stats.json()["metrics"]["totalPredictions"])


def test_reads_answer_while_ingestion_waits_for_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "service.db"
    with serving(f"sqlite:///{path}") as (url, _process):
        _create_deployment(url)
        # Another process holds SQLite's write lock: every ingestion request now waits for
        # the writer, more of them than the service has worker threads.
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        with httpx.Client(base_url=url, timeout=60) as client, ThreadPoolExecutor(60) as pool:
            pending = [pool.submit(client.post, STATS_PATH, json=_body()) for _ in range(60)]
            time.sleep(1.0)
            for read in ("/api/v2/version/", f"/api/v2/deployments/{DEP}/serviceStats/"):
                response = httpx.get(url + read, params=DAY, timeout=10)
                assert response.status_code == 200, read
            assert not any(p.done() for p in pending)  # the reads did not wait for them
            blocker.execute("COMMIT")
            assert [p.result().status_code for p in pending] == [202] * 60
        blocker.close()
        assert _predictions(url) == 60


def _post_until_stopped(
    url: str, client_id: int, stop: threading.Event, sent: dict[str, int], accepted: set[str]
) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(100_000):
            if stop.is_set():
                return
            key = f"c{client_id}-{i}"
            sent[key] = 1
            headers = {"Idempotency-Key": key, "X-Spoolwatch-Record-Ids": key}
            try:
                response = client.post(STATS_PATH, json=_body(), headers=headers)
            except httpx.TransportError:
                return
            if response.status_code == 202:
                accepted.add(key)


def _metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=30).text
    line = next(x for x in text.splitlines() if x.startswith(name + " "))
    return float(line.split()[1])


def test_service_killed_with_requests_waiting_for_a_shared_commit_loses_none_answered(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'service.db'}"
    sent: dict[str, int] = {}
    accepted: set[str] = set()
    with serving(db) as (url, process):
        _create_deployment(url)
        stop = threading.Event()
        clients = [
            threading.Thread(target=_post_until_stopped, args=(url, n, stop, sent, accepted))
            for n in range(24)
        ]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 60
        while len(accepted) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _metric(url, "spoolwatch_ingest_group_largest") > 1  # groups were shared
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        stop.set()
        for thread in clients:
            thread.join(30)
    assert len(accepted) >= 300
    with serving(db) as (url, _process):
        counted = _predictions(url)
        # Every request answered 202 was committed; unanswered ones may or may not be.
        assert len(accepted) <= counted <= len(sent)
        # The clients retry what they were not answered, with the same keys: exact totals.
        with httpx.Client(base_url=url, timeout=30) as client:
            for key in set(sent) - accepted:
                headers = {"Idempotency-Key": key, "X-Spoolwatch-Record-Ids": key}
                assert client.post(STATS_PATH, json=_body(), headers=headers).status_code == 202
        assert _predictions(url) == len(sent)
