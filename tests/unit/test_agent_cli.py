"""``spoolwatch agent ...`` through typer's runner (in-process, memory spools)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spoolwatch.agent.config_file import parse_config
from spoolwatch.cli import app
from spoolwatch.records import DataType, Record
from spoolwatch.spools.memory import MemorySpool

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The command configures the "spoolwatch" logger for the process; undo it per test.
    logger = logging.getLogger("spoolwatch")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def test_config_example_prints_a_config_that_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["agent", "config", "example"])
    assert result.exit_code == 0
    monkeypatch.setenv("SPOOLWATCH_API_TOKEN", "t")
    assert parse_config(result.stdout).channels[0].name == "local"


def test_bad_config_exits_2_naming_the_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("target:\n  url: http://h\n  colour: blue\nchannels: [{spool: /tmp}]\n")
    result = runner.invoke(app, ["agent", "run", "--config", str(config)])
    assert result.exit_code == 2
    assert "agent.yaml:3: target.colour: unknown key" in result.stderr


def test_dry_run_until_empty_prints_json_and_leaves_the_spool(tmp_path: Path) -> None:
    MemorySpool.reset("cli-dry")
    spool = MemorySpool("cli-dry")
    spool.write(
        [
            Record.new(
                DataType.DEPLOYMENT_STATS,
                "d1",
                {"timestamp": "t", "modelId": "m", "numPredictions": 1, "executionTime": 1.0},
            )
        ]
    )
    config = tmp_path / "agent.yaml"
    config.write_text(
        "target: {url: 'http://127.0.0.1:9'}\n"
        "channels: [{name: m, spool: 'memory://cli-dry'}]\n"
        "batching: {wait_seconds: 0.01}\n"
    )
    result = runner.invoke(
        app,
        [
            "agent",
            "run",
            "--config",
            str(config),
            "--until-empty",
            "--dry-run",
            "--json",
            "--log-level",
            "ERROR",
        ],
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["records_sent"] == 1 and summary["exit_code"] == 0
    assert spool.backlog().visible == 1
    MemorySpool.reset("cli-dry")


def test_unknown_log_level_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("target: {url: 'http://h'}\nchannels: [{spool: 'memory://x'}]\n")
    result = runner.invoke(app, ["agent", "run", "--config", str(config), "--log-level", "LOUD"])
    assert result.exit_code == 2 and "--log-level" in result.stderr
