"""``spoolwatch demo`` end to end, as a user runs it (a real process on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from spoolwatch.demo.model import DRIFTED_FEATURES
from tests.conftest import free_port

pytestmark = pytest.mark.slow

COMMAND = [sys.executable, "-m", "spoolwatch", "demo"]
ENV = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=timeout, env=ENV, check=False
    )


def test_demo_delivers_every_record_and_flags_the_drifted_features(tmp_path: Path) -> None:
    port = free_port()
    done = _run(
        "--exit", "--json", "--rows", "1200", "--port", str(port), "--data-dir", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])

    assert summary["records_written"] > 0
    assert summary["records_sent"] == summary["records_written"]
    assert summary["records_received"] == summary["records_written"]
    assert summary["quarantined"] == 0
    assert summary["traffic"]["predictions"] > 0 and summary["traffic"]["actuals"] > 0

    features = {f["name"]: f for f in summary["features"]}
    assert len(features) == 11
    assert all(f["before"] == "green" for f in features.values()), features
    for name in DRIFTED_FEATURES:
        assert features[name]["drifted"]
        assert features[name]["after"] in {"yellow", "red"}, features[name]
    steady = [f for f in features.values() if not f["drifted"]]
    assert all(f["after"] != "red" for f in steady), steady
    assert summary["drift_status_before"] == "green"
    assert summary["drift_status_after"] == "red"
    assert summary["accuracy_after"] < summary["accuracy_before"]

    assert summary["dashboard"] == f"http://127.0.0.1:{port}/"
    assert Path(summary["data_dir"]).parent == tmp_path.resolve()
    assert (Path(summary["data_dir"]) / "spoolwatch.db").is_file()


def test_full_demo_shows_accuracy_falling_and_target_drift_on_the_last_day(
    tmp_path: Path,
) -> None:
    done = _run("--exit", "--json", "--port", str(free_port()), "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # accuracy ~84 % before the drift and ~70 % after, against the first joined predictions
    assert summary["accuracy_status_before"] == "green"
    assert summary["accuracy_status_after"] in {"yellow", "red"}
    assert summary["accuracy_reference"] == pytest.approx(summary["accuracy_before"], abs=0.05)
    health = {name: h["status"] for name, h in summary["health"].items()}
    assert health["accuracy"] in {"yellow", "red"} and health["model"] == "red", health
    assert "reference" in summary["health"]["accuracy"]["message"]
    # the day's mixed target distribution is close to training, the drifted hours are not
    target = summary["target_drift"]
    assert target["status"] == "red" and target["driftingHours"] >= 3
    assert target["peakDriftScore"] > 0.25 > target["driftScore"]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_prints_its_summary_and_serves_the_dashboard_until_stopped(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*COMMAND, "--rows", "600", "--port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        lines = _read_until(process, "Dashboard:", timeout=120)
        output = "".join(lines)
        assert "received by the service" in output
        assert "Feature drift" in output
        assert f"http://127.0.0.1:{port}/" in output
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        listing = httpx.get(f"http://127.0.0.1:{port}/api/v2/deployments/", timeout=30).json()
        assert listing["count"] == 1
        fleet = httpx.get(f"http://127.0.0.1:{port}/api/v2/spoolwatch/agents/", timeout=10).json()
        assert [a["agentId"] for a in fleet["data"]] == ["demo-agent"]
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_demo_refuses_a_port_that_is_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run("--exit", "--port", str(port), "--data-dir", str(tmp_path), timeout=60)
    assert done.returncode == 2
    assert f"port {port}" in done.stderr and "already in use" in done.stderr


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            assert process.stderr is not None
            pytest.fail(f"demo exited ({process.wait()}): {''.join(lines)}{process.stderr.read()}")
        lines.append(line)
        if marker in line:
            return lines
    pytest.fail(f"no {marker!r} within {timeout} s: {''.join(lines)}")
