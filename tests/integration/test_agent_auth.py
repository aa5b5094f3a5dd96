"""A wrong API token against a real ``spoolwatch serve`` (auth on): the agent stops within
seconds with a message naming the target and what to check, and the spool keeps every
record."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
from spoolwatch.agent.config import BatchingConfig, RetryConfig
from spoolwatch.agent.secrets import Secret
from spoolwatch.records import DataType, Record
from spoolwatch.spools.filesystem import FilesystemSpool
from tests.service_process import direct_token, running_service

WRONG_TOKEN = "sw_this-token-was-never-issued"


def _stats(count: int) -> list[Record]:
    payload = {"timestamp": "2026-12-01T10:00:00Z", "numPredictions": 3, "executionTime": 9.5}
    return [
        Record.new(DataType.DEPLOYMENT_STATS, f"{1 + i % 2:024x}", payload) for i in range(count)
    ]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spoolwatch serve`` on a SQLite file with auth on (one real token exists)."""
    db = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'service.db'}"
    with running_service(db, direct_token(db, "agent")) as url:
        yield url


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


def test_agent_run_with_a_wrong_token_exits_2_at_once_and_reads_nothing(
    service: str, tmp_path: Path
) -> None:
    spool = _spool(tmp_path / "spool", 40)
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"target:\n  url: {service}\n  api_token_env: AGENT_TEST_TOKEN\n"
        f"channels:\n  - name: local\n    spool: {spool}\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "spoolwatch", "agent", "run"),
            *("--config", str(config), "--until-empty"),
        ],
        env={**os.environ, "AGENT_TEST_TOKEN": WRONG_TOKEN, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, output
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert "refused the API token" in output and f"{service}/api/v2/" in output
    assert "scope" in output and WRONG_TOKEN not in output
    assert _left_in(spool) == (40, 0)


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
