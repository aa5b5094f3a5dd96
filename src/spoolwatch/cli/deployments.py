"""``spoolwatch deployments create|list|delete``: directly on the database, no server needed."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from spoolwatch.cli.output import console, fail, print_json_line
from spoolwatch.cli.tokens import DB_OPTION, open_db
from spoolwatch.errors import ConfigError

app = typer.Typer(help="Deployments monitored by the service.", no_args_is_help=True)

_ACCURACY_FLAGS = {
    "metric": "--accuracy-metric",
    "yellow": "--accuracy-yellow",
    "red": "--accuracy-red",
    "baseline": "--accuracy-baseline",
}


def _feature_types(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, kind = value.partition("=")
        if not sep or not name or kind not in {"numeric", "categorical"}:
            fail(f"--feature-type: expected NAME=numeric|categorical, got {value!r}")
        out[name] = kind
    return out


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Deployment name."),
    target_type: str = typer.Option(..., "--type", help="binary, multiclass or regression."),
    target: str = typer.Option(..., "--target", help="Target column of the training data."),
    training_data: Path = typer.Option(..., "--training-data", help="CSV or Parquet file."),
    class_names: str | None = typer.Option(
        None, "--class-names", help="Comma-separated classes, in prediction order."
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
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a deployment; its training data becomes the drift baseline."""
    from spoolwatch.store.deployments import (
        AccuracySettings,
        AccuracySettingsError,
        Deployment,
        DeploymentExists,
        check_accuracy,
        check_target,
        create_deployment,
        new_object_id,
        validate_object_id,
    )
    from spoolwatch.store.training import baseline_from_frame, read_training_data

    names = tuple(c.strip() for c in class_names.split(",")) if class_names else ()
    try:
        check_target(target_type, names)
        accuracy = check_accuracy(
            target_type,
            AccuracySettings(
                metric=accuracy_metric,
                yellow=None if accuracy_yellow is None else accuracy_yellow / 100,
                red=None if accuracy_red is None else accuracy_red / 100,
                baseline_value=accuracy_baseline,
            ),
        )
        ids = (
            validate_object_id(deployment_id, "--id") if deployment_id else new_object_id(),
            validate_object_id(model_id, "--model-id") if model_id else new_object_id(),
        )
        frame = read_training_data(training_data)
        baseline, names = baseline_from_frame(
            frame,
            target=target,
            target_type=target_type,
            class_names=names,
            feature_types=_feature_types(feature_type),
        )
        deployment = Deployment(
            id=ids[0],
            name=name,
            model_id=ids[1],
            target_type=target_type,
            target_name=target,
            class_names=names,
            baseline=baseline,
            accuracy=accuracy,
        )
        create_deployment(open_db(db), deployment)
    except AccuracySettingsError as exc:
        fail(f"{_ACCURACY_FLAGS[exc.field]}: {exc}")
    except (ConfigError, DeploymentExists) as exc:
        fail(str(exc))
    if as_json:
        print_json_line(
            {
                "deploymentId": deployment.id,
                "modelId": deployment.model_id,
                "name": name,
                "targetType": target_type,
                "classNames": list(names),
                "features": [f["name"] for f in deployment.to_json()["features"]],
                "accuracy": deployment.to_json()["accuracy"],
            }
        )
        return
    console.print(f"deployment id: {deployment.id}")
    console.print(f"model id:      {deployment.model_id}")
    if accuracy is not None:
        shown = accuracy.to_json()
        parts = [f"judged by {shown['metric']}"]
        if shown["yellowPercent"] is not None:
            parts.append(
                f"yellow at {shown['yellowPercent']:g} %, red at {shown['redPercent']:g} %"
            )
        if shown["baselineValue"] is not None:
            parts.append(f"baseline {shown['baselineValue']:g}")
        console.print(f"accuracy:      {'; '.join(parts)}")


@app.command("list")
def list_command(
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """List deployments."""
    from spoolwatch.store.deployments import list_deployments

    deployments = list_deployments(open_db(db))
    if as_json:
        for d in deployments:
            print_json_line(d.to_json())
        return
    table = Table()
    for column in ("id", "name", "model id", "type", "target", "features"):
        table.add_column(column, overflow="fold", no_wrap=column.endswith("id"))
    for d in deployments:
        features = len(d.baseline.features) if d.baseline is not None else 0
        table.add_row(d.id, d.name, d.model_id, d.target_type, d.target_name or "", str(features))
    console.print(table)


@app.command("delete")
def delete(
    deployment_id: str = typer.Argument(..., help="Deployment id."),
    db: str | None = DB_OPTION,
) -> None:
    """Delete a deployment and all its statistics."""
    from spoolwatch.store.deployments import delete_deployment

    if not delete_deployment(open_db(db), deployment_id):
        fail(f"deployment {deployment_id} not found")
    console.print(f"deleted deployment {deployment_id}")
