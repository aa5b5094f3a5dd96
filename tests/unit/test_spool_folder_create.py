"""A missing filesystem spool folder: the Reporter and the agent make it when asked
(``create=True``, ``?create=true``), and the error for it names both spellings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spoolwatch import Reporter
from spoolwatch.cli import app
from spoolwatch.errors import ConfigError
from spoolwatch.report.config import ReporterConfig
from spoolwatch.spools.filesystem import FilesystemSpool
from spoolwatch.spools.memory import MemorySpool

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # ``agent run`` configures the "spoolwatch" logger for the process; undo it per test.
    logger = logging.getLogger("spoolwatch")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def _report_once(reporter: Reporter) -> None:
    with reporter:
        reporter.report_deployment_stats(num_predictions=3, execution_time_ms=1.5)


def _records_in(folder: Path) -> int:
    return FilesystemSpool(folder).backlog().total


def test_missing_folder_error_names_the_option_as_url_and_python_keyword(tmp_path: Path) -> None:
    missing = tmp_path / "spool"
    with pytest.raises(ConfigError) as caught:
        FilesystemSpool(missing)
    message = str(caught.value)
    assert f"{missing} does not exist" in message
    assert f"file://{missing}?create=true" in message
    assert "create=True" in message
    assert not missing.exists()


def test_reporter_on_a_missing_folder_fails_naming_create(tmp_path: Path) -> None:
    missing = tmp_path / "spool"
    with pytest.raises(ConfigError, match=r"\?create=true.*create=True"):
        Reporter(str(missing), deployment_id="d", model_id="m")
    assert not missing.exists()


@pytest.mark.parametrize("spelling", ["keyword", "url"])
def test_reporter_creates_the_missing_folder_when_asked(tmp_path: Path, spelling: str) -> None:
    folder = tmp_path / "a" / "spool"
    if spelling == "keyword":
        reporter = Reporter(str(folder), deployment_id="d", model_id="m", create=True)
    else:
        reporter = Reporter(f"file://{folder}?create=true", deployment_id="d", model_id="m")
    _report_once(reporter)
    assert _records_in(folder) == 1


def test_reporter_creates_the_folder_its_environment_names(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    env = {"MLOPS_SPOOLER_TYPE": "FILESYSTEM", "MLOPS_FILESYSTEM_DIRECTORY": str(folder)}
    config = ReporterConfig.from_env(env, deployment_id="d", model_id="m")
    _report_once(Reporter(config=config, create=True))
    assert _records_in(folder) == 1
    _report_once(Reporter.from_env(env, deployment_id="d", model_id="m", create=True))
    assert _records_in(folder) == 2


def test_reporter_refuses_create_for_a_queue_or_a_spool_object() -> None:
    with pytest.raises(ConfigError, match="memory spool"):
        Reporter("memory://create-test", deployment_id="d", model_id="m", create=True)
    with pytest.raises(ConfigError, match="spool object"):
        Reporter(MemorySpool("create-test"), deployment_id="d", model_id="m", create=True)


def test_a_query_on_a_plain_path_points_to_the_file_url(tmp_path: Path) -> None:
    missing = tmp_path / "spool"
    with pytest.raises(ConfigError, match=f"use a file:// URL: file://{missing}\\?create=true"):
        Reporter(f"{missing}?create=true", deployment_id="d", model_id="m")
    assert not any(tmp_path.iterdir())


def _agent_yaml(tmp_path: Path, channel: str) -> Path:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "target:\n  url: http://127.0.0.1:9\nheartbeat:\n  enabled: false\n"
        f"channels:\n  - name: local\n{channel}"
    )
    return config


def test_agent_on_a_missing_folder_exits_2_naming_create(tmp_path: Path) -> None:
    missing = tmp_path / "spool"
    config = _agent_yaml(tmp_path, f"    spool: {missing}\n")
    result = runner.invoke(app, ["agent", "run", "--config", str(config), "--until-empty"])
    assert result.exit_code == 2
    assert f"file://{missing}?create=true" in result.output
    assert "Traceback" not in result.output
    assert not missing.exists()


@pytest.mark.parametrize(
    "channel",
    [
        "    spool: file://{folder}?create=true\n",
        "    spool: {folder}\n    options: {{create: true}}\n",
    ],
)
def test_agent_creates_the_missing_folder_when_asked(tmp_path: Path, channel: str) -> None:
    folder = tmp_path / "spool"
    config = _agent_yaml(tmp_path, channel.format(folder=folder))
    result = runner.invoke(app, ["agent", "run", "--config", str(config), "--until-empty"])
    assert result.exit_code == 0, result.output
    assert folder.is_dir()
