"""``spoolwatch db migrate``: the migration step a Kubernetes init container runs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app
from spoolwatch.store.base import open_store
from spoolwatch.store.migrations import MIGRATIONS
from tests.databases import empty_database

LATEST = max(m.version for m in MIGRATIONS)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database(request, tmp_path, request.param, "migrate") as url:
        yield url


def _migrate(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner(env=env).invoke(app, ["db", "migrate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_migrate_brings_an_empty_database_to_the_latest_schema_and_again_changes_nothing(
    database_url: str,
) -> None:
    code, out, _ = _migrate("--db", database_url, "--json")
    assert code == 0, out
    assert json.loads(out)["schema_version"] == LATEST
    store = open_store(database_url, migrate_schema=False)
    try:
        assert store.readiness() is None
    finally:
        store.close()
    code, out, _ = _migrate("--json", env={"SPOOLWATCH_DB": database_url})
    assert code == 0, out
    assert json.loads(out)["schema_version"] == LATEST


def test_several_migrations_at_once_all_succeed_at_the_latest_schema(database_url: str) -> None:
    # As pods' init containers would: processes of their own, started together.
    command = [sys.executable, "-m", "spoolwatch", "db", "migrate", "--db", database_url, "--json"]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * 3, outputs
    assert {json.loads(out)["schema_version"] for out, _ in outputs} == {LATEST}


def test_text_output_names_the_database_without_its_password() -> None:
    code, out, err = _migrate(
        "--db", "postgresql://spoolwatch:hunter2-secret@127.0.0.1:1/spoolwatch"
    )
    # Unreachable: exit 1 (try again later), as an init container's restart would.
    assert code == 1, (out, err)
    assert "hunter2-secret" not in out + err
    assert "unavailable" in err


def test_text_output_says_the_schema_version(tmp_path: Path) -> None:
    code, out, _ = _migrate("--db", f"sqlite:///{tmp_path / 'new.db'}")
    assert code == 0
    assert f"schema version {LATEST}" in out
