"""``spoolwatch serve --workers N``: several service processes on one PostgreSQL database
count every prediction exactly under concurrent senders (SQLite is refused)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app
from tests.databases import new_postgres_database
from tests.integration.test_server_group_commit import DAY, serving

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEPLOYMENTS = [f"650a1b2c3d4e5f6a7b8c9d{i:02x}" for i in range(3)]
MODEL = "650a1b2c3d4e5f6a7b8c9dff"


@pytest.fixture()
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A new PostgreSQL database for this test, dropped afterwards."""
    with new_postgres_database(postgres_url, "workers") as url:
        yield url


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _send(url: str, sender: int, deployment: str) -> int:
    """Post 40 requests of one prediction each, every one twice (the second a redelivery
    that may reach the other process at the same time); return the predictions sent."""
    path = f"/api/v2/deployments/{deployment}/predictionRequests/fromJSON/"
    item = {"timestamp": "2026-11-24 10:00:00.000+0000", "numPredictions": 1, "executionTime": 1}
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(40):
            key = f"s{sender}-{i}"
            headers = {"Idempotency-Key": key, "X-Spoolwatch-Record-Ids": key}
            for _ in range(2):
                response = client.post(path, json={"data": [item]}, headers=headers)
                assert response.status_code == 202, response.text
    return 40


def test_two_service_processes_count_every_prediction_once(fresh_database: str) -> None:
    with serving(fresh_database, "--workers", "2") as (url, process):
        assert len(_children(process.pid)) >= 2
        for deployment in DEPLOYMENTS:
            body: dict[str, Any] = {
                "id": deployment,
                "modelId": MODEL,
                "label": "d",
                "targetType": "regression",
            }
            assert httpx.post(url + "/api/v2/deployments/", json=body).status_code == 201
        with ThreadPoolExecutor(12) as pool:
            # Two senders per key space: each request reaches the service four times.
            jobs = [
                pool.submit(_send, url, sender % 6, DEPLOYMENTS[sender % 3]) for sender in range(12)
            ]
            sent = sum(job.result() for job in jobs) // 2
        total = 0
        for deployment in DEPLOYMENTS:
            stats = httpx.get(
                url + f"/api/v2/deployments/{deployment}/serviceStats/", params=DAY, timeout=30
            )
            total += stats.json()["metrics"]["totalPredictions"]
        assert total == sent == 6 * 40


def test_workers_on_sqlite_are_refused_with_the_reason(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(app, ["serve", "--db", db, "--workers", "2", "--no-auth"])
    assert result.exit_code == 2
    assert "needs PostgreSQL" in " ".join(result.output.split())
