"""A wrong API token against a real ``spoolwatch serve`` (auth on): the agent stops within
seconds with a message naming the target and what to check, and the spool keeps every
record."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
from spoolwatch.agent.config import RetryConfig
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.sinks.secrets import Secret
from spoolwatch.spools.filesystem import FilesystemSpool
from tests.service_process import direct_token, running_service

WRONG_TOKEN = "sw_this-token-was-never-issued"


def _stats(count: int) -> list[Record]:
    payload = {"timestamp": "2026-12-01T10:00:00Z", "numPredictions": 3, "executionTime": 9.5}
    return [
        Record.new(DataType.DEPLOYMENT_STATS, f"{1 + i % 2:024x}", payload) for i in range(count)
    ]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('auth') / 'service.db'}"


@pytest.fixture(scope="module")
def service(database: str) -> Iterator[str]:
    """``spoolwatch serve`` on a SQLite file with auth on (one real ingest token exists)."""
    with running_service(database, direct_token(database, "agent")) as url:
        yield url


@pytest.fixture(scope="module")
def read_token(database: str, service: str) -> str:
    """A real token of the service that may query but not write records."""
    return direct_token(database, "dashboard", "read")


def _spool(directory: Path, count: int) -> Path:
    spool = FilesystemSpool(directory, create=True)
    spool.write(_stats(count))
    spool.close()
    return directory


def _left_in(directory: Path) -> tuple[int, int]:
    """(records waiting, records quarantined) in a filesystem spool."""
    spool = FilesystemSpool(directory)
    try:
        return spool.backlog().total, len(list(spool.quarantined()))
    finally:
        spool.close()


def _agent_run(service: str, spool: Path, token: str) -> tuple[int, str, float]:
    """``agent run --until-empty`` with ``token`` in ``AGENT_TEST_TOKEN``: its exit code, its
    output on one line, and how long it took."""
    started = time.monotonic()
    done = _agent_process(service, spool, token)
    output = " ".join((done.stdout + done.stderr).split())
    return done.returncode, output, time.monotonic() - started


def _agent_process(
    service: str, spool: Path, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    config = spool.parent / "agent.yaml"
    config.write_text(
        f"target:\n  url: {service}\n  api_token_env: AGENT_TEST_TOKEN\n"
        f"channels:\n  - name: local\n    spool: {spool}\n"
    )
    return subprocess.run(
        [
            *(sys.executable, "-m", "spoolwatch", "agent", "run"),
            *("--config", str(config), "--until-empty", *args),
        ],
        env={**os.environ, "AGENT_TEST_TOKEN": token, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_agent_run_with_a_wrong_token_exits_2_at_once_and_reads_nothing(
    service: str, tmp_path: Path
) -> None:
    spool = _spool(tmp_path / "spool", 40)
    code, output, elapsed = _agent_run(service, spool, WRONG_TOKEN)
    assert code == 2, output
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert "refused the API token" in output and f"{service}/api/v2/" in output
    assert "scope" in output and WRONG_TOKEN not in output
    assert _left_in(spool) == (40, 0)


def test_with_json_logs_the_refusal_names_the_request_id_the_service_echoed(
    service: str, tmp_path: Path
) -> None:
    spool = _spool(tmp_path / "spool", 5)
    done = _agent_process(
        service, spool, WRONG_TOKEN, "--log-format", "json", "--log-level", "DEBUG"
    )
    assert done.returncode == 2, done.stderr
    assert WRONG_TOKEN not in done.stderr + done.stdout and done.stdout == ""
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    (refused,) = [e for e in entries if e["level"] == "ERROR"]
    assert "refused the API token" in refused["message"]
    assert re.search(r"\(request id [A-Za-z0-9.-]+-[0-9a-f]{12}\)$", refused["message"])
    assert "answered as" not in refused["message"]  # the service kept the agent's id


def test_token_refused_on_send_stops_the_agent_and_keeps_every_record(
    service: str, tmp_path: Path
) -> None:
    # The start-up check skipped: the token is refused by the first send (as when it is
    # revoked while the agent runs), and the agent must not retry it for ever.
    spool = _spool(tmp_path / "spool", 250)
    config = AgentConfig(
        target=TargetConfig(url=service, api_token=Secret(WRONG_TOKEN)),
        channels=(ChannelConfig(name="local", address=str(spool)),),
        batching=BatchingConfig(max_records=100, wait_seconds=0.05),
        retry=RetryConfig(initial_seconds=0.05, max_seconds=0.5),
        heartbeat=False,
    )
    started = time.monotonic()
    with Agent(config) as agent:
        result = agent.run(check_credentials=False)  # no --until-empty: it must stop anyway
    assert time.monotonic() - started < 10
    assert result.exit_code == 2 and result.stopped_by == "auth"
    assert result.failed_because == "auth" and result.quarantined == 0
    (message,) = result.channel_errors.values()
    assert "HTTP 401" in message and "refused the API token" in message
    assert "invalid or revoked API token" in message and WRONG_TOKEN not in message
    assert _left_in(spool) == (250, 0)


def test_agent_run_with_a_read_token_exits_2_with_the_services_reason_and_the_fix(
    service: str, read_token: str, tmp_path: Path
) -> None:
    spool = _spool(tmp_path / "spool", 40)
    code, output, elapsed = _agent_run(service, spool, read_token)
    assert code == 2, output
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert f"POST {service}/api/v2/spoolwatch/records/known/: HTTP 403" in output
    assert "this token has scope read;" in output and "needs ingest" in output  # its words
    assert "check the API token (env:AGENT_TEST_TOKEN)" in output
    assert "spoolwatch tokens create --name NAME --scope ingest" in output
    assert read_token not in output
    assert _left_in(spool) == (40, 0)


def test_read_token_refused_on_send_names_the_missing_scope_and_keeps_every_record(
    service: str, read_token: str, tmp_path: Path
) -> None:
    spool = _spool(tmp_path / "spool", 30)
    config = AgentConfig(
        target=TargetConfig(url=service, api_token=Secret(read_token, source="env:X")),
        channels=(ChannelConfig(name="local", address=str(spool)),),
        retry=RetryConfig(initial_seconds=0.05, max_seconds=0.5),
        heartbeat=False,
    )
    with Agent(config) as agent:
        result = agent.run(check_credentials=False, until_empty=True)
    assert result.exit_code == 2 and result.stopped_by == "auth"
    (message,) = result.channel_errors.values()
    assert "HTTP 403" in message and "/predictionRequests/fromJSON/ needs ingest" in message
    assert "this token has scope read" in message and "--scope ingest" in message
    assert "check the API token (env:X)" in message and read_token not in message
    assert _left_in(spool) == (30, 0)
