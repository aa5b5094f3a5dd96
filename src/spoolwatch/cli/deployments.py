"""``spoolwatch deployments create|list|show|delete``: through a service or on its database
(see :mod:`spoolwatch.cli.admin`). Both ways build a deployment with the same code
(:mod:`spoolwatch.store.deployment_spec`), so they refuse the same input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.table import Table

from spoolwatch.cli.admin import (
    DB_OPTION,
    SERVER_OPTION,
    TOKEN_OPTION,
    fail_with,
    need_store,
    open_db,
    service_client,
)
from spoolwatch.cli.output import console, fail, print_json_line
from spoolwatch.cli.service_client import ServiceClient
from spoolwatch.errors import ConfigError, SpoolwatchError

__all__ = ["app"]

app = typer.Typer(
    help="Deployments monitored by the service. Through a service with --server URL (or "
    "SPOOLWATCH_URL) and an admin token, else on the database directly.",
    no_args_is_help=True,
)

#: The CLI option of each setting a deployment is refused for.
_FLAGS = {
    "name": "--name",
    "type": "--type",
    "target": "--target",
    "class_names": "--class-names",
    "feature_types": "--feature-type",
    "training_data": "--training-data",
    "id": "--id",
    "model_id": "--model-id",
    "metric": "--accuracy-metric",
    "yellow": "--accuracy-yellow",
    "red": "--accuracy-red",
    "baseline": "--accuracy-baseline",
}

#: Terminal columns from which ``deployments list`` shows the model id.
_WIDE = 110


def _refused(exc: SpoolwatchError) -> str:
    """The error's line, with the CLI's option in front when it names a setting (the
    store's ``DeploymentFieldError`` and ``AccuracySettingsError``, found by their ``field``
    so that working through a service needs no store installed)."""
    field = getattr(exc, "field", None)
    if not isinstance(field, str):
        return str(exc)
    return f"{_FLAGS.get(field, field)}: {getattr(exc, 'reason', str(exc))}"


def _upload(
    client: ServiceClient, training_data: Path, form: dict[str, Any], feature_type: list[str]
) -> dict[str, Any]:
    """``POST deployments/fromTrainingData/`` with the file and the settings as form fields."""
    if not training_data.is_file():
        raise ConfigError(f"--training-data: {training_data} does not exist or is not a file")
    fields: dict[str, Any] = {k: str(v) for k, v in form.items() if v is not None}
    if feature_type:
        fields["featureTypes"] = feature_type
    files = {"trainingData": (training_data.name, training_data.read_bytes())}
    with client:
        return dict(client.call("POST", "deployments/fromTrainingData/", data=fields, files=files))


def _create_directly(
    ctx: typer.Context,
    db: str | None,
    training_data: Path,
    form: dict[str, Any],
    feature_type: list[str],
) -> dict[str, Any]:
    need_store()
    from spoolwatch.store.deployment import AccuracySettings
    from spoolwatch.store.deployment_spec import (
        DeploymentSpec,
        build_deployment,
        parse_class_names,
        parse_feature_types,
    )
    from spoolwatch.store.deployments import create_deployment
    from spoolwatch.store.training import read_training_data

    def percent(value: float | None) -> float | None:
        return None if value is None else value / 100

    spec = DeploymentSpec(
        name=form["label"],
        target_type=form["targetType"],
        target_name=form["targetName"],
        class_names=parse_class_names(form["classNames"]),
        feature_types=parse_feature_types(feature_type),
        deployment_id=form["id"],
        model_id=form["modelId"],
        accuracy=AccuracySettings(
            metric=form["accuracyMetric"],
            yellow=percent(form["accuracyYellowPercent"]),
            red=percent(form["accuracyRedPercent"]),
            baseline_value=form["accuracyBaselineValue"],
        ),
    )
    deployment = build_deployment(spec, read_training_data(training_data))
    return create_deployment(open_db(ctx, db), deployment).to_json()


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Deployment name."),
    target_type: str = typer.Option(..., "--type", help="binary, multiclass or regression."),
    target: str = typer.Option(..., "--target", help="Target column of the training data."),
    training_data: Path = typer.Option(..., "--training-data", help="CSV or Parquet file."),
    class_names: str | None = typer.Option(
        None,
        "--class-names",
        help="Comma-separated classes in the order of the model's probabilities (binary: the "
        "positive class second). Needed unless the target is 0/1 or False/True (binary) or "
        "0..k-1 (multiclass).",
    ),
    feature_type: list[str] = typer.Option(
        [], "--feature-type", help="Override a feature's type: NAME=numeric|categorical."
    ),
    deployment_id: str | None = typer.Option(
        None, "--id", help="Use this deployment id (24 hex characters)."
    ),
    model_id: str | None = typer.Option(None, "--model-id", help="Use this model id."),
    accuracy_metric: str | None = typer.Option(
        None,
        "--accuracy-metric",
        help="Judge accuracy by: accuracy or logLoss (classification), rmse or mae (regression).",
    ),
    accuracy_yellow: float | None = typer.Option(
        None, "--accuracy-yellow", help="Yellow at this degradation, in percent (default 10)."
    ),
    accuracy_red: float | None = typer.Option(
        None, "--accuracy-red", help="Red at this degradation, in percent (default 20)."
    ),
    accuracy_baseline: float | None = typer.Option(
        None,
        "--accuracy-baseline",
        help="The metric's reference value (default: measured on the first joined rows).",
    ),
    server: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a deployment; its training data becomes the drift baseline."""
    # The settings under the names of the service's form fields: sent as they are to a
    # service, read back from here on the database.
    form: dict[str, Any] = {
        "label": name,
        "targetType": target_type,
        "targetName": target,
        "classNames": class_names,
        "id": deployment_id,
        "modelId": model_id,
        "accuracyMetric": accuracy_metric,
        "accuracyYellowPercent": accuracy_yellow,
        "accuracyRedPercent": accuracy_red,
        "accuracyBaselineValue": accuracy_baseline,
    }
    client = service_client(ctx, server, token)
    try:
        if client is not None:
            created = _upload(client, training_data, form, feature_type)
        else:
            created = _create_directly(ctx, db, training_data, form, feature_type)
    except SpoolwatchError as exc:
        fail_with(exc, _refused(exc))
    _print_created(created, as_json)


def _print_created(created: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json_line(
            {
                "deploymentId": created["id"],
                "modelId": created["modelId"],
                "name": created["label"],
                "targetType": created["targetType"],
                "classNames": created["classNames"],
                "features": [f["name"] for f in created["features"]],
                "accuracy": created["accuracy"],
            }
        )
        return
    console.print(f"deployment id: {created['id']}")
    console.print(f"model id:      {created['modelId']}")
    if created["classNames"]:
        console.print(f"classes:       {', '.join(created['classNames'])}", markup=False)
    if created["accuracy"] is not None:
        console.print(f"accuracy:      {_accuracy_text(created['accuracy'])}")


def _accuracy_text(shown: dict[str, Any]) -> str:
    parts = [f"judged by {shown['metric']}"]
    if shown["yellowPercent"] is not None:
        parts.append(f"yellow at {shown['yellowPercent']:g} %, red at {shown['redPercent']:g} %")
    if shown["baselineValue"] is not None:
        parts.append(f"baseline {shown['baselineValue']:g}")
    return "; ".join(parts)


@app.command("list")
def list_command(
    ctx: typer.Context,
    server: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """List deployments (through a service: with their statuses over the last day)."""
    client = service_client(ctx, server, token)
    try:
        if client is not None:
            with client:
                deployments = list(client.call("GET", "deployments/")["data"])
        else:
            need_store()
            from spoolwatch.store.deployments import list_deployments

            deployments = [d.to_json() for d in list_deployments(open_db(ctx, db))]
    except SpoolwatchError as exc:
        fail_with(exc)
    if as_json:
        for d in deployments:
            print_json_line(d)
        return
    # Ids, types and counts are never broken and names wrap between words. Two 24-character
    # ids leave a name no room on an 80-column terminal: there the model id (which
    # ``deployments show`` gives) is left out.
    columns = ["id", "name", "model id", "type", "target", "features"]
    if console.width < _WIDE:
        columns.remove("model id")
    table = Table(box=box.SIMPLE_HEAD)
    for column in columns:
        text = column in {"name", "target"}
        width = 12 if column == "name" else None
        # Only a word longer than its column is folded.
        table.add_column(column, no_wrap=not text, overflow="fold", min_width=width)
    for d in deployments:
        cells = {
            "id": d["id"],
            "name": d["label"],
            "model id": d["modelId"],
            "type": d["targetType"],
            "target": d["targetName"] or "",
            "features": str(len(d["features"])),
        }
        table.add_row(*(cells[column] for column in columns))
    console.print(table)


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@app.command("show")
def show(
    ctx: typer.Context,
    deployment_id: str = typer.Argument(..., help="Deployment id."),
    server: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one deployment: ids, target, classes, features, accuracy settings (through a
    service: and its statuses over the last day)."""
    from urllib.parse import quote

    client = service_client(ctx, server, token)
    try:
        if client is not None:
            with client:
                shown = dict(client.call("GET", f"deployments/{quote(deployment_id, safe='')}/"))
        else:
            need_store()
            from spoolwatch.store.deployments import get_deployment

            found = get_deployment(open_db(ctx, db), deployment_id)
            if found is None:
                fail(f"deployment {deployment_id} not found")
            shown = found.to_json()
    except SpoolwatchError as exc:
        fail_with(exc)
    if as_json:
        print_json_line(shown)
        return
    _print_deployment(shown)


#: The statuses a service adds (over the last day), and how ``show`` names them.
_HEALTH = {
    "serviceHealth": "service health",
    "modelHealth": "drift",
    "accuracyHealth": "accuracy status",
}


def _print_deployment(d: dict[str, Any]) -> None:
    rows = [
        ("deployment id", d["id"]),
        ("name", d["label"]),
        ("model id", d["modelId"]),
        ("type", d["targetType"]),
        ("target", d["targetName"] or "(none)"),
        ("classes", ", ".join(d["classNames"]) or "(none)"),
        ("created", _time(d["createdAt"])),
        ("baseline", "yes" if d["hasBaseline"] else "no (no training data)"),
    ]
    features = ", ".join(f"{f['name']} ({f['featureType']})" for f in d["features"])
    rows.append(("features", features or "(none)"))
    accuracy = d.get("accuracy")
    rows.append(
        ("accuracy", "the service's defaults" if accuracy is None else _accuracy_text(accuracy))
    )
    for check, label in _HEALTH.items():
        health = d.get(check)
        if health:
            rows.append((label, str(health.get("status"))))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        console.print(f"{label + ':':<{width + 1}} {value}", markup=False, soft_wrap=True)


@app.command("delete")
def delete(
    ctx: typer.Context,
    deployment_id: str = typer.Argument(..., help="Deployment id."),
    server: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Delete a deployment and all its statistics."""
    from urllib.parse import quote

    client = service_client(ctx, server, token)
    try:
        if client is not None:
            with client:
                client.call("DELETE", f"deployments/{quote(deployment_id, safe='')}/")
        else:
            need_store()
            from spoolwatch.store.deployments import delete_deployment

            if not delete_deployment(open_db(ctx, db), deployment_id):
                fail(f"deployment {deployment_id} not found")
    except SpoolwatchError as exc:
        fail_with(exc)
    console.print(f"deleted deployment {deployment_id}")
