"""``spoolwatch tokens`` and ``spoolwatch deployments`` against a real ``spoolwatch serve``
(``--server URL`` / ``SPOOLWATCH_URL`` and an admin token), their bad input, and the direct
database mode that makes the first token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from spoolwatch.cli import app
from tests.conftest import free_port
from tests.service_process import direct_token, running_service


@dataclass(frozen=True)
class Service:
    url: str
    db: str
    admin: str
    ingest: str


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    db = f"sqlite:///{tmp_path_factory.mktemp('admin') / 'service.db'}"
    admin = direct_token(db, "ops", "admin")
    ingest = direct_token(db, "agent", "ingest")
    with running_service(db, admin) as url:
        yield Service(url, db, admin, ingest)


def cli(service: Service | None, *args: str, token: str | None = None) -> Result:
    """The CLI with SPOOLWATCH_URL and SPOOLWATCH_API_TOKEN pointing at ``service`` (and
    none when ``service`` is ``None``)."""
    env = {"SPOOLWATCH_DB": None, "SPOOLWATCH_URL": None, "SPOOLWATCH_API_TOKEN": None}
    if service is not None:
        env.update(SPOOLWATCH_URL=service.url, SPOOLWATCH_API_TOKEN=token or service.admin)
    return CliRunner(env={**env, "COLUMNS": "200"}).invoke(app, list(args))


def refused(result: Result, code: int = 2) -> str:
    """The one error line of a refused command (no traceback), with its spaces normalised."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return " ".join(lines[0].split())


@pytest.fixture(scope="module")
def training(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("training") / "train.csv"
    rows = ["amount,merchant,label"] + [
        f"{i * 1.5},{'shop-a' if i % 3 else 'shop-b'},{'fraud' if i % 4 == 0 else 'legit'}"
        for i in range(40)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def _create(service: Service | None, training: Path, *extra: str) -> Result:
    return cli(
        service,
        *("deployments", "create", "--name", "fraud", "--training-data", str(training)),
        *extra,
        "--json",
    )


BINARY = ("--type", "binary", "--target", "label", "--class-names", "legit,fraud")


def test_token_made_through_the_service_is_shown_once_listed_and_revoked_at_once(
    service: Service,
) -> None:
    made = cli(service, "tokens", "create", "--name", "dash", "--scope", "read", "--json")
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["scope"] == "read" and created["token"].startswith("sw_")
    assert made.stderr == ""  # through a service no database is opened
    auth = {"Authorization": f"Bearer {created['token']}"}
    assert httpx.get(f"{service.url}/api/v2/deployments/", headers=auth).status_code == 200
    listed = cli(service, "tokens", "list", "--json")
    assert listed.exit_code == 0 and created["token"] not in listed.stdout
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {"ops", "agent", "dash"} <= {row["name"] for row in rows}
    assert all("token" not in row for row in rows)
    revoked = cli(service, "tokens", "revoke", "dash")
    assert revoked.exit_code == 0 and "revoked 1 token(s)" in revoked.stdout
    assert httpx.get(f"{service.url}/api/v2/deployments/", headers=auth).status_code == 401
    assert "no active token with id or name 'dash'" in refused(
        cli(service, "tokens", "revoke", "dash")
    )
    assert "--scope: 'write' is not one of" in refused(
        cli(service, "tokens", "create", "--name", "x", "--scope", "write")
    )


def test_deployment_created_over_http_from_a_csv_is_listed_shown_and_deleted(
    service: Service, training: Path
) -> None:
    made = _create(service, training, *BINARY)
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["classNames"] == ["legit", "fraud"]
    assert created["features"] == ["amount", "merchant"]
    dep = created["deploymentId"]
    listed = cli(service, "deployments", "list", "--json")
    assert dep in [json.loads(line)["id"] for line in listed.stdout.splitlines()]
    shown = cli(service, "deployments", "show", dep)
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert f"deployment id: {dep}" in text and "classes: legit, fraud" in text
    assert "features: amount (numeric), merchant (categorical)" in text
    assert "service health: unknown" in text and "drift: unknown" in text
    as_json = json.loads(cli(service, "deployments", "show", dep, "--json").stdout)
    assert as_json["hasBaseline"] is True and as_json["serviceHealth"]["status"]
    deleted = cli(service, "deployments", "delete", dep)
    assert deleted.exit_code == 0 and f"deleted deployment {dep}" in deleted.stdout
    for command in ("show", "delete"):
        message = refused(cli(service, "deployments", command, dep))
        assert message == f"error: deployment {dep} not found"


def test_parquet_upload_with_a_type_override_and_accuracy_settings(
    service: Service, training: Path, tmp_path: Path
) -> None:
    import pandas as pd

    parquet = tmp_path / "train.parquet"
    pd.read_csv(training).to_parquet(parquet)
    made = _create(
        service,
        parquet,
        *("--type", "regression", "--target", "amount"),
        *("--feature-type", "merchant=categorical", "--accuracy-metric", "mae"),
        *("--accuracy-yellow", "5", "--accuracy-red", "15", "--id", "650a1b2c3d4e5f6a7b8c9d0e"),
    )
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["deploymentId"] == "650a1b2c3d4e5f6a7b8c9d0e"
    assert created["accuracy"]["metric"] == "mae" and created["accuracy"]["redPercent"] == 15
    again = _create(
        service,
        parquet,
        "--type",
        "regression",
        "--target",
        "amount",
        "--id",
        "650a1b2c3d4e5f6a7b8c9d0e",
    )
    assert "650a1b2c3d4e5f6a7b8c9d0e already exists" in refused(again)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--type", "regression", "--target", "merchant"],
            "--target: column 'merchant' is not numeric (it holds 'shop-b')",
        ),
        (
            ["--type", "binary", "--target", "label"],
            "--class-names: required: the target's classes are ['fraud', 'legit']",
        ),
        (
            ["--type", "binary", "--target", "nope", "--class-names", "a,b"],
            "--target: column 'nope'",
        ),
        (
            [
                "--type",
                "binary",
                "--target",
                "label",
                "--id",
                "123",
                "--class-names",
                "legit,fraud",
            ],
            "--id: '123' is not an id of 24 hexadecimal characters",
        ),
        ([*BINARY, "--feature-type", "amount=text"], "--feature-type: expected NAME=numeric"),
        ([*BINARY, "--accuracy-metric", "rmse"], "--accuracy-metric: accuracy metric 'rmse'"),
        ([*BINARY, "--accuracy-yellow", "30", "--accuracy-red", "20"], "--accuracy-yellow:"),
        (["--type", "ordinal", "--target", "label"], "--type:"),
    ],
)
def test_settings_that_do_not_fit_are_refused_alike_by_the_service_and_the_database(
    service: Service, training: Path, tmp_path: Path, arguments: list[str], message: str
) -> None:
    db = f"sqlite:///{tmp_path / 'direct.db'}"
    over_http = _create(service, training, *arguments)
    directly = _create(None, training, *arguments, "--db", db)
    assert message in refused(over_http)
    assert directly.exit_code == 2 and message in " ".join(directly.stderr.split())


def test_classes_of_zero_and_one_need_no_class_names(service: Service, tmp_path: Path) -> None:
    data = tmp_path / "flags.csv"
    data.write_text("x,churned\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    made = _create(service, data, "--type", "binary", "--target", "churned")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["classNames"] == ["0", "1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n3,4,5,6\n", "--training-data: cannot read train.csv"),
        ("a,b\n", "--training-data: train.csv has no rows"),
        ("", "--training-data: train.csv is empty"),
    ],
)
def test_bad_csv_is_one_line_naming_the_file(
    service: Service, tmp_path: Path, content: str, message: str
) -> None:
    data = tmp_path / "train.csv"
    data.write_text(content)
    assert message in refused(_create(service, data, "--type", "regression", "--target", "b"))


def test_a_missing_training_file_is_refused_before_any_call(service: Service) -> None:
    result = _create(service, Path("no-such.csv"), "--type", "regression", "--target", "b")
    assert "--training-data: no-such.csv does not exist" in refused(result)


def test_wrong_token_is_401_and_a_token_without_admin_scope_403_naming_it(
    service: Service,
) -> None:
    wrong = refused(cli(service, "deployments", "list", token="sw_never-issued"))
    assert f"the service at {service.url} refused the token (401" in wrong
    assert "invalid or revoked API token" in wrong and "SPOOLWATCH_API_TOKEN" in wrong
    for command in (["tokens", "list"], ["deployments", "delete", "650a1b2c3d4e5f6a7b8c9d0e"]):
        forbidden = refused(cli(service, *command, token=service.ingest))
        assert "403" in forbidden and "this token has scope ingest" in forbidden
        assert "needs admin" in forbidden


def test_unreachable_service_names_its_url_and_exits_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for command in (["tokens", "list"], ["deployments", "show", "x"]):
        result = CliRunner().invoke(app, [*command, "--server", url])
        assert f"cannot reach the service at {url}" in refused(result, code=1)
    done = subprocess.run(
        [sys.executable, "-m", "spoolwatch", "deployments", "list", "--server", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert (
        done.stderr.startswith("error: cannot reach the service at")
        and "Traceback" not in done.stderr
    )
    bad = refused(CliRunner().invoke(app, ["tokens", "list", "--server", "ftp://u:pw@h/"]))
    assert "--server:" in bad and "pw" not in bad


def test_server_and_db_together_are_refused_an_explicit_db_wins_over_the_environment(
    service: Service, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'other.db'}"
    both = CliRunner().invoke(app, ["tokens", "list", "--server", service.url, "--db", db])
    assert "--server and --db" in refused(both)
    direct = cli(service, "tokens", "list", "--json", "--db", db)
    assert direct.exit_code == 0 and direct.stdout == ""  # the new database has no token
    assert str(tmp_path / "other.db") in direct.stderr
    stray = cli(None, "tokens", "list", "--token", service.admin)
    assert "--token: only with --server" in refused(stray)


def test_direct_mode_names_its_database_on_stderr_and_keeps_stdout_machine_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = cli(None, "tokens", "create", "--name", "boot", "--scope", "admin", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["scope"] == "admin"
    default = tmp_path / "spoolwatch-data" / "spoolwatch.db"
    assert first.stderr.strip().splitlines() == [
        f"database: sqlite:///{default} (new and empty: created now; --server URL for a service)"
    ]
    again = cli(None, "tokens", "list", "--json")
    assert [json.loads(line)["name"] for line in again.stdout.splitlines()] == ["boot"]
    assert (
        again.stderr.strip()
        == f"database: sqlite:///{default} (directly; --server URL for a service)"
    )


def test_direct_mode_masks_the_database_password(postgres_url: str) -> None:
    with_password = postgres_url.replace("postgres@", "postgres:pw-S3CRET@")
    result = cli(None, "tokens", "list", "--db", with_password, "--json")
    assert result.exit_code == 0, result.output
    assert "pw-S3CRET" not in result.output
    assert result.stderr.startswith("database: postgresql+psycopg://postgres:***@127.0.0.1")


def test_upload_endpoint_names_the_missing_form_field(service: Service, training: Path) -> None:
    auth = {"Authorization": f"Bearer {service.admin}"}
    response = httpx.post(
        f"{service.url}/api/v2/deployments/fromTrainingData/",
        headers=auth,
        data={"targetType": "binary"},
        files={"trainingData": ("train.csv", training.read_bytes())},
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "targetName"]]
    response = httpx.post(
        f"{service.url}/api/v2/deployments/fromTrainingData/",
        headers=auth,
        data={"targetType": "binary", "targetName": "label", "classNames": "legit,fraud"},
        files={"trainingData": ("train.txt", training.read_bytes())},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "trainingData"]
    assert "neither .csv nor .parquet" in response.json()["detail"][0]["msg"]


_WITHOUT_STORE = """
import sys

class NoStore:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"sqlalchemy", "pandas", "pyarrow", "fastapi"}:
            raise ImportError(f"{name} is not installed here")
        return None

sys.meta_path.insert(0, NoStore())
sys.argv = ["spoolwatch", *sys.argv[1:]]
from spoolwatch.cli import main
main()
"""


def test_through_a_service_the_commands_need_neither_the_store_nor_pandas(
    service: Service, training: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SPOOLWATCH_")},
        "SPOOLWATCH_URL": service.url,
        "SPOOLWATCH_API_TOKEN": service.admin,
    }
    args = [*("deployments", "create", "--name", "bare", *BINARY), "--training-data", str(training)]
    for command in (args, ["tokens", "list"], ["deployments", "list", "--json"]):
        done = subprocess.run(
            [sys.executable, "-c", _WITHOUT_STORE, *command],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    assert '"label":"bare"' in done.stdout
