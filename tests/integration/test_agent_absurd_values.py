"""End to end, as processes: DataRobot's library output with two absurd records (1e308 ms,
which DataRobot's library accepts) and 100 ordinary ones in a filesystem spool;
``spoolwatch agent run --until-empty`` drains it into ``spoolwatch serve``. The agent ends by
itself, the ordinary records are counted, the absurd ones are quarantined with the service's
reason, and the deployment list, serviceStats and ``/metrics`` answer 200."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from spoolwatch.records.timestamps import dr_timestamp, now_local
from spoolwatch.spools.filesystem import FilesystemSpool
from spoolwatch.store.base import open_store
from spoolwatch.store.tokens import create_token
from tests.service_process import running_service

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
_SPOOLWATCH = (sys.executable, "-m", "spoolwatch")


def _datarobot_line(template: dict[str, Any], execution_time: float) -> bytes:
    """One JSON spool line as DataRobot's library writes it (compact orjson, payload as a
    JSON string in ``data``), built from a line of its real output."""
    header = {**template["header"], "id": str(uuid.uuid4())}
    payload = {
        **template["data_decoded"],
        "timestamp": dr_timestamp(now_local()),
        "numPredictions": 3,
        "executionTime": execution_time,
    }
    data = orjson.dumps(payload).decode()
    return orjson.dumps({"header": header, "data": data}) + b"\n"


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``spoolwatch serve`` on a SQLite file: its URL and a token. Nothing the agent sent may
    fail inside the service."""
    db = f"sqlite:///{tmp_path / 'service.db'}"
    store = open_store(db)
    token = create_token(store, "e2e")[1]
    store.close()
    with running_service(db, token, no_tracebacks=True) as url:
        yield url, token


def test_absurd_datarobot_records_are_quarantined_and_every_answer_stays_200(
    tmp_path: Path, fixtures_dir: Path, service: tuple[str, str]
) -> None:
    url, token = service
    auth = {"Authorization": f"Bearer {token}"}
    body = {"id": DEP, "modelId": MODEL, "label": "absurd", "targetType": "regression"}
    assert httpx.post(f"{url}/api/v2/deployments/", json=body, headers=auth).status_code == 201

    template = json.loads((fixtures_dir / "json_records" / "01_DEPLOYMENT_STATS.json").read_text())
    lines = [_datarobot_line(template, 10.0 + i) for i in range(100)]
    lines.insert(10, _datarobot_line(template, 1e308))
    lines.insert(61, _datarobot_line(template, 1e308))
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "fs_spool.1").write_bytes(b"".join(lines))

    config = tmp_path / "agent.yaml"
    config.write_text(
        f"target: {{url: '{url}', api_token_env: SPOOLWATCH_API_TOKEN}}\n"
        f"channels: [{{name: fs, spool: '{spool}'}}]\n"
        "batching: {max_records: 100, max_records_per_request: 50, wait_seconds: 0.1}\n"
        "retry: {initial_seconds: 0.05, max_seconds: 0.5}\n"
        "heartbeat: {enabled: false}\n"
    )
    agent = subprocess.run(
        [*_SPOOLWATCH, "agent", "run", "--config", str(config), "--until-empty", "--json"],
        env={**os.environ, "SPOOLWATCH_API_TOKEN": token},
        capture_output=True,
        timeout=120,  # it must end by itself
    )
    assert agent.returncode == 0, agent.stderr.decode(errors="replace")
    result = json.loads(agent.stdout.decode().strip().splitlines()[-1])
    assert result["quarantined"] == 2, result

    inspect = FilesystemSpool(spool)
    parked = list(inspect.quarantined())
    assert inspect.backlog().total == 0
    inspect.close()
    assert len(parked) == 2
    for record in parked:
        assert "HTTP 422" in record.reason and "executionTime" in record.reason, record.reason
        assert "1e12" in record.reason  # the service's own words

    listed = httpx.get(f"{url}/api/v2/deployments/", headers=auth)
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"][0]["serviceHealth"]["message"] == "100 requests"
    stats = httpx.get(f"{url}/api/v2/deployments/{DEP}/serviceStats/", headers=auth)
    assert stats.status_code == 200, stats.text
    metrics = stats.json()["metrics"]
    assert metrics["totalRequests"] == 100 and metrics["totalPredictions"] == 300
    assert metrics["executionTime"] == pytest.approx(59.5)
    scraped = httpx.get(f"{url}/metrics", headers=auth)
    assert scraped.status_code == 200 and f'deployment="{DEP}"' in scraped.text
