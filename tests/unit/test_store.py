"""The store on a SQLite file: engine, migrations, tokens, deployments, training data."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from spoolwatch.errors import ConfigError, InvalidRecord
from spoolwatch.store import schema
from spoolwatch.store.base import Store, open_store
from spoolwatch.store.deployment import (
    Deployment,
    DeploymentFieldError,
    new_object_id,
    validate_object_id,
)
from spoolwatch.store.deployments import (
    DeploymentExists,
    create_deployment,
    delete_deployment,
    get_deployment,
    list_deployments,
)
from spoolwatch.store.engine import DEFAULT_DB_URL, create_engine, normalise_url
from spoolwatch.store.migrations import MIGRATIONS
from spoolwatch.store.tokens import (
    TokenScope,
    create_token,
    list_tokens,
    revoke_token,
    token_is_valid,
    token_scope,
)
from spoolwatch.store.training import baseline_from_frame, read_training_data


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'db' / 'spoolwatch.db'}")


def test_database_urls_are_normalised() -> None:
    assert normalise_url(None) == DEFAULT_DB_URL
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("data/x.db") == "sqlite:///data/x.db"
    assert normalise_url("sqlite:////abs.db") == "sqlite:////abs.db"


def test_unsupported_database_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported database"):
        create_engine("mysql://u@h/db")


def test_sqlite_store_uses_wal_and_creates_its_directory(store: Store, tmp_path: Path) -> None:
    assert (tmp_path / "db" / "spoolwatch.db").is_file()
    with store.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_migrations_are_recorded_once(store: Store) -> None:
    version = store.migrate()
    with store.read() as conn:
        versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    assert versions == list(range(1, version + 1)) == [m.version for m in MIGRATIONS]


def test_token_is_stored_only_as_a_hash(store: Store) -> None:
    info, token = create_token(store, "agent")
    assert token.startswith("sw_") and len(token) > 40
    with store.read() as conn:
        stored = conn.execute(select(schema.api_tokens)).one()
    assert token not in stored._mapping.values()
    assert token_is_valid(store, token) and not token_is_valid(store, token + "x")
    assert [t.name for t in list_tokens(store)] == ["agent"]
    assert revoke_token(store, info.id) == 1
    assert not token_is_valid(store, token)
    assert revoke_token(store, info.id) == 0


def test_token_keeps_its_scope_and_admin_is_the_default(store: Store) -> None:
    _, agent = create_token(store, "agent", "ingest")
    _, viewer = create_token(store, "viewer", TokenScope.READ)
    _, anything = create_token(store, "ops")
    assert token_scope(store, agent) is TokenScope.INGEST
    assert token_scope(store, viewer) is TokenScope.READ
    assert token_scope(store, anything) is TokenScope.ADMIN
    assert token_scope(store, agent + "x") is None
    assert [t.scope for t in list_tokens(store)] == ["ingest", "read", "admin"]
    with pytest.raises(ConfigError, match="--scope: 'write' is not one of ingest, read, admin"):
        create_token(store, "bad", "write")


def test_admin_allows_every_scope_and_the_others_only_their_own() -> None:
    assert all(TokenScope.ADMIN.allows(needed) for needed in TokenScope)
    assert TokenScope.INGEST.allows(TokenScope.INGEST)
    assert not TokenScope.INGEST.allows(TokenScope.READ)
    assert not TokenScope.READ.allows(TokenScope.INGEST)
    assert not TokenScope.READ.allows(TokenScope.ADMIN)


def test_token_needs_a_name(store: Store) -> None:
    with pytest.raises(ConfigError, match="name"):
        create_token(store, "  ")


def test_object_ids_look_like_datarobots() -> None:
    new = new_object_id()
    assert len(new) == 24 and validate_object_id(new, "id") == new
    assert validate_object_id("650A1B2C3D4E5F6A7B8C9D0E", "id") == "650a1b2c3d4e5f6a7b8c9d0e"
    with pytest.raises(ConfigError, match="24 hexadecimal"):
        validate_object_id("650a1b2c", "id")


def test_deployment_round_trip_and_delete(store: Store) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"], "y": [0.5, 1.5, 2.5]})
    baseline, _ = baseline_from_frame(frame, target="y", target_type="regression")
    deployment = Deployment(
        id=new_object_id(),
        name="d",
        model_id=new_object_id(),
        target_type="regression",
        target_name="y",
        baseline=baseline,
    )
    create_deployment(store, deployment)
    with pytest.raises(DeploymentExists):
        create_deployment(store, deployment)
    loaded = get_deployment(store, deployment.id)
    assert loaded is not None and loaded.baseline is not None
    assert loaded.baseline.to_dict() == baseline.to_dict()
    assert [d.id for d in list_deployments(store)] == [deployment.id]
    assert delete_deployment(store, deployment.id) is True
    assert get_deployment(store, deployment.id) is None
    assert delete_deployment(store, deployment.id) is False


def test_classification_baseline_counts_class_labels() -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2, 3, 4], "label": ["no", "yes", "yes", "yes"]})
    baseline, names = baseline_from_frame(
        frame, target="label", target_type="binary", class_names=("no", "yes")
    )
    assert names == ("no", "yes")
    assert baseline.target is not None
    assert (
        dict(zip(baseline.target.bin_labels(), baseline.target.counts.tolist(), strict=True))["yes"]
        == 3
    )


@pytest.mark.parametrize(
    ("target", "target_type", "class_names", "message"),
    [
        ("nope", "regression", (), "column 'nope'"),
        ("label", "binary", ("no", "maybe"), "other classes"),
        ("label", "multiclass", (), "3 or more"),
    ],
)
def test_training_data_that_does_not_fit_is_refused(
    target: str, target_type: str, class_names: tuple[str, ...], message: str
) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2], "label": ["no", "yes"]})
    with pytest.raises(ConfigError, match=message):
        baseline_from_frame(frame, target=target, target_type=target_type, class_names=class_names)


@pytest.mark.parametrize(
    ("target_type", "labels", "expected"),
    [
        ("binary", [0, 1, 1, 0], ("0", "1")),
        ("binary", [1.0, 0.0, 1.0, 0.0], ("0", "1")),
        ("binary", [True, False, True, True], ("False", "True")),
        ("binary", ["true", "FALSE", "true", "true"], ("FALSE", "true")),
        ("multiclass", [2, 0, 1, 10, 3, 4, 5, 6, 7, 8, 9], tuple(str(i) for i in range(11))),
    ],
)
def test_unambiguous_classes_are_taken_from_the_training_data(
    target_type: str, labels: list[object], expected: tuple[str, ...]
) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": range(len(labels)), "label": labels})
    _, names = baseline_from_frame(frame, target="label", target_type=target_type)
    assert names == expected


@pytest.mark.parametrize(
    ("target_type", "labels"),
    [
        ("binary", ["no", "yes", "no"]),
        ("binary", [1, 2, 1]),
        ("binary", ["0", "yes", "0"]),
        ("multiclass", ["a", "b", "c"]),
        ("multiclass", [1, 2, 3]),
    ],
)
def test_classes_whose_order_is_not_evident_need_class_names(
    target_type: str, labels: list[object]
) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": range(len(labels)), "label": labels})
    with pytest.raises(DeploymentFieldError, match="required: the target's classes are") as caught:
        baseline_from_frame(frame, target="label", target_type=target_type)
    assert caught.value.field == "class_names"


@pytest.mark.parametrize("values", [["a", "b", "c"], [True, False, True], [1.5, "x", 2.0]])
def test_a_regression_target_that_is_not_numeric_is_refused(values: list[object]) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2, 3], "y": values})
    with pytest.raises(DeploymentFieldError, match="column 'y' is not numeric") as caught:
        baseline_from_frame(frame, target="y", target_type="regression")
    assert caught.value.field == "target"


def test_training_file_must_exist_and_be_csv_or_parquet(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_training_data(tmp_path / "missing.csv")
    other = tmp_path / "data.json"
    other.write_text("{}")
    with pytest.raises(ConfigError, match="neither"):
        read_training_data(other)
    good = tmp_path / "data.csv"
    good.write_text("a,b\n1,2\n")
    assert list(read_training_data(good).columns) == ["a", "b"]


def test_old_dedupe_state_is_pruned(store: Store) -> None:
    import time

    from spoolwatch.server.ingestion import IngestKind, Ingestor

    create_deployment(
        store,
        Deployment(
            id="650a1b2c3d4e5f6a7b8c9d0e",
            name="d",
            model_id=new_object_id(),
            target_type="regression",
        ),
    )
    ingestor = Ingestor(store, retention_seconds=3600)
    body = {
        "data": [
            {"timestamp": "2026-11-24 10:00:00.000+0000", "numPredictions": 1, "executionTime": 1.0}
        ]
    }
    ingestor.ingest(
        IngestKind.PREDICTION_REQUESTS,
        "650a1b2c3d4e5f6a7b8c9d0e",
        body,
        idempotency_key="k",
        record_ids=["r1", "r2"],
    )
    assert ingestor.prune(now=time.time()) == 0
    assert ingestor.prune(now=time.time() + 7200) == 3
    again = ingestor.ingest(
        IngestKind.PREDICTION_REQUESTS,
        "650a1b2c3d4e5f6a7b8c9d0e",
        body,
        idempotency_key="k",
        record_ids=["r1", "r2"],
    )
    assert again.duplicate is False


def test_a_database_of_an_older_version_is_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import inspect

    from spoolwatch.store import migrations

    url = f"sqlite:///{tmp_path / 'old.db'}"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    old = open_store(url)
    assert old.migrate() == 1
    old.close()
    monkeypatch.undo()
    upgraded = open_store(url)
    with upgraded.read() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("ingested_records")}
        versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    assert "ix_ingested_records_created_at" in indexes
    assert sorted(versions) == [m.version for m in MIGRATIONS]


def test_a_request_of_many_items_folds_the_drift_of_its_items_one_by_one(tmp_path: Path) -> None:
    """Items are binned together per hour and feature; the counts are what binning each
    item alone gives, and a nested column is refused naming its item, not counted as
    missing values."""
    from spoolwatch.monitoring.baseline import Baseline
    from spoolwatch.store.drift_folding import DriftFold

    baseline = Baseline.from_columns({"x": [float(i) for i in range(100)], "c": ["a", "b"] * 50})
    deployment = Deployment(
        id="d" * 24, name="d", model_id="m", target_type="regression", baseline=baseline
    )
    items = [
        {
            "timestamp": "2026-12-01T10:00:00Z",
            "features": [
                {"name": "x", "values": [float(i * 7 % 120), None, "text"]},
                {"name": "c", "values": ["a", "z", None]},
            ],
            "predictions": [1.0, 2.0, 3.0],
        }
        for i in range(5)
    ]
    together = DriftFold(deployment)
    for n, item in enumerate(items):
        together.add(("m", 0), item, f"data.{n}")
    together.bin()
    alone = DriftFold(deployment)
    for n, item in enumerate(items):
        alone.add(("m", 0), item, f"data.{n}")
        alone.bin()
    assert together.groups[("m", 0)].aggregate == alone.groups[("m", 0)].aggregate
    nested = DriftFold(deployment)
    nested.add(("m", 0), items[0], "data.0")
    bad = {**items[1], "features": [{"name": "x", "values": [[1.0, 2.0], [3.0, 4.0]]}]}
    with pytest.raises(InvalidRecord, match=r"data\.1\.features\.0\.values"):
        nested.add(("m", 0), bad, "data.1")
