# ruff: noqa: F811 - the fixtures imported from test_server_cli are redefined as parameters
"""``spoolwatch deployments create --accuracy-*``: a deployment's own accuracy settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spoolwatch.store.base import open_store
from spoolwatch.store.deployment import AccuracySettings
from spoolwatch.store.deployments import list_deployments
from tests.integration.test_server_cli import db, run, training  # noqa: F401 - fixtures


def _create(db: str, training: Path, *extra: str, kind: str = "binary") -> tuple[int, str]:
    classes = ["--class-names", "legit,fraud"] if kind == "binary" else []
    target = "label" if kind == "binary" else "amount"
    return run(
        "deployments",
        "create",
        "--name",
        "fraud",
        "--type",
        kind,
        "--target",
        target,
        *classes,
        "--training-data",
        str(training),
        "--db",
        db,
        *extra,
    )


def test_accuracy_settings_are_stored_with_the_deployment(db: str, training: Path) -> None:
    code, out = _create(
        db,
        training,
        "--accuracy-metric",
        "logLoss",
        "--accuracy-yellow",
        "5",
        "--accuracy-red",
        "15",
        "--accuracy-baseline",
        "0.3",
        "--json",
    )
    assert code == 0, out
    shown = {"metric": "logLoss", "yellowPercent": 5.0, "redPercent": 15.0, "baselineValue": 0.3}
    assert json.loads(out)["accuracy"] == shown
    store = open_store(db)
    try:
        [deployment] = list_deployments(store)
    finally:
        store.close()
    assert deployment.accuracy == AccuracySettings("logLoss", 0.05, 0.15, 0.3)
    code, listed = run("deployments", "list", "--db", db, "--json")
    assert json.loads(listed)["accuracy"] == shown


def test_without_accuracy_options_the_service_defaults_apply(db: str, training: Path) -> None:
    code, out = _create(db, training)
    assert code == 0, out
    assert "accuracy:" not in out
    code, listed = run("deployments", "list", "--db", db, "--json")
    assert json.loads(listed)["accuracy"] is None


def test_human_output_says_how_accuracy_is_judged(db: str, training: Path) -> None:
    code, out = _create(db, training, "--accuracy-yellow", "12")
    assert code == 0, out
    assert "judged by accuracy; yellow at 12 %, red at 20 %" in out


@pytest.mark.parametrize(
    ("options", "kind", "words"),
    [
        (["--accuracy-yellow", "20", "--accuracy-red", "10"], "binary", "--accuracy-yellow:"),
        (["--accuracy-yellow", "20", "--accuracy-red", "20"], "binary", "must be below"),
        (["--accuracy-red", "8"], "binary", "--accuracy-red: the yellow threshold (10 %)"),
        (["--accuracy-metric", "rmse"], "binary", "does not apply to binary"),
        (["--accuracy-metric", "accuracy"], "regression", "--accuracy-metric:"),
        (["--accuracy-metric", "auc"], "binary", "is not one of accuracy, logLoss"),
        (["--accuracy-yellow", "-5"], "binary", "--accuracy-yellow: yellow threshold"),
        (["--accuracy-baseline", "1.2"], "binary", "--accuracy-baseline:"),
        (["--accuracy-baseline", "nan"], "regression", "must be finite"),
    ],
)
def test_bad_accuracy_options_exit_2_and_create_nothing(
    db: str, training: Path, options: list[str], kind: str, words: str
) -> None:
    code, out = _create(db, training, *options, kind=kind)
    assert code == 2, out
    assert words in " ".join(out.split())
    store = open_store(db)
    try:
        assert list_deployments(store) == []
    finally:
        store.close()
