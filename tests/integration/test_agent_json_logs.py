"""``spoolwatch agent run --log-format json`` against a real HTTP server: every line on stderr
is one JSON object, a retried request is named by the id it was sent with, and the API token
never shows, even at DEBUG."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.testing import RecordingServer
from spoolwatch.spools.filesystem import FilesystemSpool

TOKEN = "sw_agent-json-logs-token-0123456789"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The command configures the "spoolwatch" logger for the process; undo it per test.
    logger = logging.getLogger("spoolwatch")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def _config(tmp_path: Path, url: str, count: int = 3) -> Path:
    spool = FilesystemSpool(tmp_path / "spool", create=True)
    payload = {"timestamp": "2026-12-01T10:00:00Z", "numPredictions": 3, "executionTime": 9.5}
    spool.write([Record.new(DataType.DEPLOYMENT_STATS, "d1", payload) for _ in range(count)])
    spool.close()
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"target: {{url: '{url}', api_token_env: AGENT_JSON_TOKEN}}\n"
        f"channels: [{{name: fs, spool: '{tmp_path / 'spool'}'}}]\n"
        "batching: {wait_seconds: 0.01}\n"
        "retry: {initial_seconds: 0.01, max_seconds: 0.05}\n"
        "heartbeat: {enabled: false}\n"
        "agent_id: json-agent\n"
    )
    return config


def _run(config: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    runner = CliRunner(env={"AGENT_JSON_TOKEN": TOKEN, **(env or {})})
    return runner.invoke(
        app, ["agent", "run", "--config", str(config), "--until-empty", "--log-level", "DEBUG",
              *args]
    )  # fmt: skip


def _lines(text: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in text.splitlines()]
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    return entries


def test_json_lines_name_the_retried_request_and_never_the_token(tmp_path: Path) -> None:
    with RecordingServer() as server:
        server.fail_next(500)
        result = _run(_config(tmp_path, server.url), "--log-format", "json")
        sent = [r.headers["x-request-id"] for r in server.requests]
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # no table, no summary: the last log line is the summary
    assert TOKEN not in result.stderr
    entries = _lines(result.stderr)
    assert any(e["level"] == "DEBUG" for e in entries)
    (retry,) = [e for e in entries if "retry 1" in e["message"]]
    assert retry["level"] == "WARNING" and retry["request_id"] == sent[0]
    assert f"request id {sent[0]}" in retry["message"]
    assert len(set(sent)) == len(sent) == 2 and all(r.startswith("json-agent-") for r in sent)
    assert "stopped (empty)" in entries[-1]["message"]


def test_the_environment_chooses_json_and_a_refusal_is_one_json_error_line(
    tmp_path: Path,
) -> None:
    with RecordingServer() as server:
        server.answer("/", 401, body=f'{{"message": "token {TOKEN} is unknown"}}'.encode())
        result = _run(_config(tmp_path, server.url), env={"SPOOLWATCH_LOG_FORMAT": "json"})
    assert result.exit_code == 2
    assert TOKEN not in result.stderr and TOKEN not in result.stdout
    errors = [e for e in _lines(result.stderr) if e["level"] == "ERROR"]
    assert errors and "refused the API token" in errors[0]["message"]
    assert "request id json-agent-" in errors[0]["message"]


def test_a_bad_config_is_a_json_error_line_too(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("target: {url: 'http://h', colour: blue}\nchannels: [{spool: /tmp}]\n")
    result = _run(config, "--log-format", "json")
    assert result.exit_code == 2
    (entry,) = _lines(result.stderr)
    assert entry["level"] == "ERROR" and "target.colour: unknown key" in entry["message"]
