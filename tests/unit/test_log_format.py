"""The JSON log formatter and the log configurations ``spoolwatch serve`` hands uvicorn."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
import uvicorn.config
from typer.testing import CliRunner

from spoolwatch.cli import app
from spoolwatch.cli.serve import _log_config
from spoolwatch.logs import JsonFormatter, LogFormat


def _record(name: str, msg: str, *args: object, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


def test_a_record_with_an_exception_carries_its_traceback_as_text_on_one_line() -> None:
    try:
        raise RuntimeError("the store went away\nsecond line")
    except RuntimeError:
        record = _record(
            "spoolwatch.server", "ingest failed for %s", "dep-1", exc_info=sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "ingest failed for dep-1"
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "spoolwatch.server"
    assert entry["exception"].startswith("Traceback")
    assert "RuntimeError: the store went away" in entry["exception"]


def test_an_access_record_gains_its_request_fields() -> None:
    record = _record(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        "10.0.0.7:5123",
        "POST",
        "/api/v2/x",
        "1.1",
        202,
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == '10.0.0.7:5123 - "POST /api/v2/x HTTP/1.1" 202'
    assert (entry["client"], entry["method"], entry["path"], entry["status"]) == (
        "10.0.0.7:5123",
        "POST",
        "/api/v2/x",
        202,
    )
    assert "http_version" not in entry


def test_text_stays_uvicorns_format_with_the_service_at_warning() -> None:
    config = _log_config(LogFormat.text, "info")
    assert config["formatters"] == uvicorn.config.LOGGING_CONFIG["formatters"]
    assert config["handlers"]["access"]["stream"] == "ext://sys.stdout"
    assert config["loggers"]["spoolwatch"]["level"] == "WARNING"


@pytest.mark.parametrize(("level", "expected"), [("info", logging.INFO), ("debug", logging.DEBUG)])
def test_json_uses_one_formatter_on_stderr_and_the_service_follows_the_log_level(
    level: str, expected: int
) -> None:
    config = _log_config(LogFormat.json, level)
    assert list(config["formatters"]) == ["json"]
    for handler in config["handlers"].values():
        assert handler["formatter"] == "json"
        assert handler["stream"] == "ext://sys.stderr"
    assert config["loggers"]["spoolwatch"]["level"] == expected


def test_an_unknown_log_format_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(app, ["serve", "--log-format", "xml"])
    assert result.exit_code == 2
    assert "text" in result.output and "json" in result.output


def test_the_request_and_deployment_come_from_the_record_or_else_the_context() -> None:
    import contextvars

    from spoolwatch.logs import deployment_id, request_id

    def format_in_a_request(record: logging.LogRecord) -> dict[str, Any]:
        request_id.set("req-7")
        deployment_id.set("dep-7")
        return dict(json.loads(JsonFormatter().format(record)))

    plain = _record("spoolwatch.server", "folded")
    assert {"request_id", "deployment_id"}.isdisjoint(json.loads(JsonFormatter().format(plain)))
    entry = contextvars.Context().run(format_in_a_request, plain)
    assert (entry["request_id"], entry["deployment_id"]) == ("req-7", "dep-7")
    named = _record("spoolwatch.agent", "retrying")
    named.request_id = "agent-1-abc"
    entry = contextvars.Context().run(format_in_a_request, named)
    assert (entry["request_id"], entry["deployment_id"]) == ("agent-1-abc", "dep-7")
