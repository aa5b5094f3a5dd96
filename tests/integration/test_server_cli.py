"""``spoolwatch serve``, ``tokens`` and ``deployments`` on a SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app
from spoolwatch.store.base import open_store
from spoolwatch.store.deployments import list_deployments
from spoolwatch.store.tokens import TokenScope, list_tokens, token_scope
from tests.conftest import free_port


@pytest.fixture()
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture()
def training(tmp_path: Path) -> Path:
    path = tmp_path / "train.csv"
    rows = ["amount,merchant,label"] + [
        f"{i * 1.5},{'shop-a' if i % 3 else 'shop-b'},{'fraud' if i % 4 == 0 else 'legit'}"
        for i in range(40)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def run(*args: str) -> tuple[int, str]:
    """The exit code and the output: stdout alone on success (the line naming the database
    goes to stderr), everything on failure."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def create_binary(db: str, training: Path, name: str) -> dict[str, Any]:
    """``deployments create`` of a binary deployment on ``training``; its JSON answer."""
    args = ["--name", name, "--type", "binary", "--target", "label"]
    args += ["--class-names", "legit,fraud", "--training-data", str(training)]
    code, out = run("deployments", "create", *args, "--db", db, "--json")
    assert code == 0, out
    created: dict[str, Any] = json.loads(out)
    return created


def test_token_is_printed_once_listed_without_it_and_revoked(db: str) -> None:
    code, out = run("tokens", "create", "--name", "agent", "--db", db, "--json")
    assert code == 0
    created = json.loads(out)
    assert created["token"].startswith("sw_")
    code, listed = run("tokens", "list", "--db", db, "--json")
    assert code == 0 and created["token"] not in listed
    assert json.loads(listed.splitlines()[0])["name"] == "agent"
    assert run("tokens", "revoke", created["id"], "--db", db)[0] == 0
    code, out = run("tokens", "revoke", created["id"], "--db", db)
    assert code == 2 and "no active token" in out


def test_token_scope_is_chosen_at_creation_ingest_by_default_and_listed(db: str) -> None:
    created = {}
    for arguments in ([], ["--scope", "read"], ["--scope", "ADMIN"]):
        name = f"t{len(created)}"
        code, out = run("tokens", "create", "--name", name, *arguments, "--db", db, "--json")
        assert code == 0, out
        created[json.loads(out)["scope"]] = json.loads(out)["token"]
    assert sorted(created) == ["admin", "ingest", "read"]
    store = open_store(db)
    assert {s: token_scope(store, t) for s, t in created.items()} == {
        "admin": TokenScope.ADMIN,
        "ingest": TokenScope.INGEST,
        "read": TokenScope.READ,
    }
    code, listed = run("tokens", "list", "--db", db, "--json")
    assert [json.loads(line)["scope"] for line in listed.splitlines()] == [
        "ingest",
        "read",
        "admin",
    ]
    code, out = run("tokens", "create", "--name", "x", "--scope", "write", "--db", db)
    assert code == 2 and "--scope: 'write' is not one of ingest, read, admin" in out
    assert len(list_tokens(store)) == 3


def test_deployment_from_training_data_prints_its_ids(db: str, training: Path) -> None:
    created = create_binary(db, training, "fraud")
    assert len(created["deploymentId"]) == 24 and len(created["modelId"]) == 24
    assert created["features"] == ["amount", "merchant"]
    code, listed = run("deployments", "list", "--db", db, "--json")
    assert code == 0, listed
    assert json.loads(listed)["id"] == created["deploymentId"]
    assert run("deployments", "delete", created["deploymentId"], "--db", db)[0] == 0
    assert run("deployments", "delete", created["deploymentId"], "--db", db)[0] == 2


def test_parquet_training_data_and_type_override(db: str, training: Path, tmp_path: Path) -> None:
    import pandas as pd

    parquet = tmp_path / "train.parquet"
    pd.read_csv(training).to_parquet(parquet)
    code, out = run(
        "deployments",
        "create",
        "--name",
        "r",
        "--type",
        "regression",
        "--target",
        "amount",
        "--training-data",
        str(parquet),
        "--feature-type",
        "merchant=categorical",
        "--db",
        db,
    )
    assert code == 0, out
    assert "deployment id:" in out and "model id:" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--type", "binary", "--target", "label", "--training-data", "missing.csv"],
            "does not exist",
        ),
        (["--type", "ordinal", "--target", "label"], "not one of"),
        (["--type", "binary", "--target", "nope"], "column 'nope'"),
        (["--type", "regression", "--target", "amount", "--class-names", "a,b"], "no classes"),
        (["--type", "binary", "--target", "label", "--id", "123"], "24 hexadecimal"),
        (
            ["--type", "binary", "--target", "label", "--feature-type", "amount=text"],
            "NAME=numeric|categorical",
        ),
    ],
)
def test_bad_input_exits_2_and_creates_nothing(
    db: str, training: Path, arguments: list[str], message: str
) -> None:
    if "--training-data" not in arguments:
        arguments = [*arguments, "--training-data", str(training)]
    code, out = run("deployments", "create", "--name", "x", *arguments, "--db", db)
    assert code == 2
    assert message in " ".join(out.split())
    assert list_deployments(open_store(db)) == []


def test_no_auth_is_refused_on_a_public_address(db: str) -> None:
    code, out = run("serve", "--db", db, "--host", "0.0.0.0", "--no-auth")
    assert code == 2 and "loopback" in out


def test_serve_answers_with_a_token(db: str) -> None:
    code, out = run("tokens", "create", "--name", "t", "--db", db, "--json")
    assert code == 0
    token = json.loads(out)["token"]
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spoolwatch",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "SPOOLWATCH_DB": ""},
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v2/version/"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["major"] == 2
        assert httpx.get(url).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("columns", [80, 120])
def test_deployments_list_keeps_ids_and_words_whole_at_the_terminals_width(
    db: str, training: Path, columns: int
) -> None:
    name = "customer churn classifier production eu-west"
    created = create_binary(db, training, name)
    env = {**os.environ, "COLUMNS": str(columns)}
    table = subprocess.run(
        [sys.executable, "-m", "spoolwatch", "deployments", "list", "--db", db],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    lines = table.splitlines()
    assert all(len(line) <= columns for line in lines)
    assert created["deploymentId"] in table  # on one line, whole
    assert (created["modelId"] in table) == (columns >= 110)  # left out where it leaves no room
    words = " ".join(table.split()).split()
    for word in name.split():
        assert word in words, (word, table)
