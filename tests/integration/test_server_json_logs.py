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

DEP = "650a1b2c3d4e5f6a7b8c9d0e"


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
            ready = httpx.get(f"{url}/readyz", headers={"X-Request-ID": "probe-1"})
            assert ready.status_code == 200 and ready.headers["x-request-id"] == "probe-1"
            refused = httpx.get(
                f"{url}/api/v2/deployments/{DEP}/",
                headers={"Authorization": "Bearer not-a-token", "X-Request-ID": "bad id"},
            )
            assert refused.status_code == 401
            made = refused.headers["x-request-id"]
            posted = httpx.post(
                f"{url}/api/v2/deployments/{DEP}/predictionRequests/fromJSON/",
                content=b'{"data": []}',
                headers={"Authorization": f"Bearer {token}", "X-Request-ID": "agent-1-abc"},
            )
            assert posted.status_code == 404  # no such deployment; answered by the lane
        finally:
            process.send_signal(signal.SIGTERM)
            # uvicorn stops cleanly, then re-raises the signal it caught.
            assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    assert (log.parent / "stdout").read_bytes() == b""
    text = log.read_text()
    assert token not in text
    assert "not-a-token" not in text
    assert "bad id" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    for entry in entries:
        if entry.get("path") == f"/api/v2/deployments/{DEP}/":
            assert entry["request_id"] == made
    return entries


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
    assert access["/readyz"]["request_id"] == "probe-1"
    assert "deployment_id" not in access["/readyz"]
    refused = access[f"/api/v2/deployments/{DEP}/"]
    assert refused["status"] == 401 and refused["deployment_id"] == DEP
    ingest = access[f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"]
    assert (ingest["status"], ingest["request_id"], ingest["deployment_id"]) == (
        404,
        "agent-1-abc",
        DEP,
    )
    # The service's own lines outside any request (start, shutdown) name none.
    assert all("request_id" not in e for e in entries if e["logger"] == "spoolwatch.cli.serve")
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


def test_at_trace_level_no_line_holds_a_token_and_requests_are_named(tmp_path: Path) -> None:
    # trace: below debug, uvicorn logs every ASGI message (headers as "<...>").
    entries = _serve_json(
        f"sqlite:///{tmp_path / 'spoolwatch.db'}",
        tmp_path / "stderr",
        "--log-format",
        "json",
        "--log-level",
        "trace",
        env={},
    )  # the tokens' absence is checked by _serve_json, on every line
    assert any(entry["logger"] == "uvicorn.asgi" for entry in entries)
    assert {"probe-1", "agent-1-abc"} <= {e.get("request_id") for e in entries}
