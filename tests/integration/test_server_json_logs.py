"""``spoolwatch serve --log-format json``: every line the service writes is one JSON object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.service_process import direct_token

pytestmark = pytest.mark.slow


def _serve_json(db: str, log: Path, *args: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """Run the service with ``args``, make a good and a refused request, stop it with
    SIGTERM; return its stderr, each line parsed as JSON (stdout must stay empty)."""
    token = direct_token(db, "logs")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as err, (log.parent / "stdout").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "spoolwatch", "serve", "--db", db, "--port", str(port), *args],
            stdout=out,
            stderr=err,
            env={**os.environ, "SPOOLWATCH_DB": "", **env},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    answer = httpx.get(
                        f"{url}/api/v2/version/", headers={"Authorization": f"Bearer {token}"}
                    )
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and process.poll() is None
                    time.sleep(0.1)
            assert answer.status_code == 200
            assert httpx.get(f"{url}/readyz").status_code == 200
            refused = httpx.get(
                f"{url}/api/v2/deployments/", headers={"Authorization": "Bearer not-a-token"}
            )
            assert refused.status_code == 401
        finally:
            process.send_signal(signal.SIGTERM)
            # uvicorn stops cleanly, then re-raises the signal it caught.
            assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    assert (log.parent / "stdout").read_bytes() == b""
    text = log.read_text()
    assert token not in text
    assert "not-a-token" not in text
    return [json.loads(line) for line in text.splitlines()]


def _access(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["path"]: e for e in entries if e["logger"] == "uvicorn.access"}


def test_json_logs_are_one_object_per_line_for_the_service_uvicorn_and_access(
    tmp_path: Path,
) -> None:
    entries = _serve_json(
        f"sqlite:///{tmp_path / 'spoolwatch.db'}",
        tmp_path / "stderr",
        "--log-format",
        "json",
        env={},
    )
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
        assert entry["time"].endswith("Z")
    loggers = {entry["logger"] for entry in entries}
    assert {"spoolwatch.cli.serve", "uvicorn.error", "uvicorn.access"} <= loggers
    access = _access(entries)
    assert access["/readyz"]["status"] == 200
    assert access["/readyz"]["method"] == "GET"
    assert access["/api/v2/deployments/"]["status"] == 401
    assert entries[-1]["message"].startswith("Finished server process")


def test_json_logs_are_chosen_by_the_environment_with_the_log_level_kept(tmp_path: Path) -> None:
    entries = _serve_json(
        f"sqlite:///{tmp_path / 'spoolwatch.db'}",
        tmp_path / "stderr",
        "--log-level",
        "warning",
        env={"SPOOLWATCH_LOG_FORMAT": "JSON"},
    )
    # At warning, neither the banner, uvicorn's start lines nor the access log are written;
    # whatever is, is JSON.
    assert all(entry["level"] in {"WARNING", "ERROR", "CRITICAL"} for entry in entries)
