"""Bad arguments to the CLI: ``error: ...`` naming what is wrong, exit 2, no traceback and no
secret in the output."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_spool_inspect_with_a_wrong_broker_password_is_a_clear_error_without_it(
    rabbitmq_url: str,
) -> None:
    address = rabbitmq_url.replace("guest:guest@", "guest:not-the-s3cret@")
    result = runner.invoke(app, ["spool", "inspect", address, "--queue", "spoolwatch-nope"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "password" in result.output
    assert "not-the-s3cret" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_spool_inspect_of_sqs_without_a_region_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    result = runner.invoke(app, ["spool", "inspect", "sqs://spoolwatch-nope"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "region" in result.output
    assert isinstance(result.exception, SystemExit)


def test_fleet_status_without_an_aws_region_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/data"
    args = ["fleet", "status", "--data-queue", queue, "--agent-queue", queue, "--table", "t"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "region" in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", [["serve"], ["tokens", "list"], ["deployments", "list"]])
def test_database_url_with_a_bad_port_is_a_clear_error_without_the_password(
    command: list[str],
) -> None:
    result = runner.invoke(app, [*command, "--db", "postgresql://u:pw-S3CRET@h:notaport/x"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "--db" in result.output
    assert "pw-S3CRET" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


def test_token_name_longer_than_200_characters_is_a_clear_error(db_url: str) -> None:
    result = runner.invoke(app, ["tokens", "create", "--name", "n" * 201, "--db", db_url])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "--name" in result.output
    listed = runner.invoke(app, ["tokens", "list", "--json", "--db", db_url])
    assert "n" * 201 not in listed.output


def test_deployment_name_longer_than_200_characters_is_a_clear_error(
    db_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    args = ["deployments", "create", "--name", "n" * 201, "--training-data", str(data)]
    result = runner.invoke(app, [*args, "--target", "b", "--type", "regression", "--db", db_url])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "--name" in result.output
    listed = runner.invoke(app, ["deployments", "list", "--json", "--db", db_url])
    assert "n" * 201 not in listed.output
