"""The deployments table: create, look up, list and delete deployments.

What a deployment is, and the checks its fields pass, live in
:mod:`spoolwatch.store.deployment`.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import IntegrityError

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.baseline import Baseline
from spoolwatch.store import schema
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import (
    AccuracySettings,
    Deployment,
    DeploymentFieldError,
    check_accuracy,
    check_target,
    validate_object_id,
)

__all__ = [
    "DeploymentExists",
    "create_deployment",
    "delete_deployment",
    "get_deployment",
    "list_deployments",
]


class DeploymentExists(ConfigError):
    """A deployment with that id already exists."""


def create_deployment(store: Store, deployment: Deployment) -> Deployment:
    """Insert ``deployment``; :class:`DeploymentExists` when its id is taken."""
    check_target(deployment.target_type, deployment.class_names)
    accuracy = check_accuracy(deployment.target_type, deployment.accuracy)
    # The columns' widths, enforced by PostgreSQL but not SQLite.
    if len(deployment.name) > 200:
        raise DeploymentFieldError("name", "at most 200 characters")
    if deployment.target_name is not None and len(deployment.target_name) > 200:
        raise DeploymentFieldError("target", "at most 200 characters")
    values = {
        "id": validate_object_id(deployment.id, "id"),
        "name": deployment.name,
        "model_id": validate_object_id(deployment.model_id, "model_id"),
        "target_type": deployment.target_type,
        "target_name": deployment.target_name,
        "class_names": orjson.dumps(list(deployment.class_names)).decode(),
        "baseline": (
            orjson.dumps(deployment.baseline.to_dict()).decode()
            if deployment.baseline is not None
            else None
        ),
        "created_at": deployment.created_at,
        "accuracy": orjson.dumps(accuracy.to_dict()).decode() if accuracy is not None else None,
    }
    try:
        with store.write() as conn:
            conn.execute(schema.deployments.insert().values(**values))
    except IntegrityError as exc:
        raise DeploymentExists(f"deployment {deployment.id} already exists") from exc
    return deployment


def _from_row(row: Any) -> Deployment:
    baseline = Baseline.from_dict(orjson.loads(row.baseline)) if row.baseline else None
    return Deployment(
        id=row.id,
        name=row.name,
        model_id=row.model_id,
        target_type=row.target_type,
        target_name=row.target_name,
        class_names=tuple(orjson.loads(row.class_names or "[]")),
        baseline=baseline,
        created_at=row.created_at,
        accuracy=AccuracySettings.from_dict(orjson.loads(row.accuracy)) if row.accuracy else None,
    )


def get_deployment(
    store: Store, deployment_id: str, conn: Connection | None = None
) -> Deployment | None:
    """The deployment with this id, or ``None``."""
    query = select(schema.deployments).where(schema.deployments.c.id == deployment_id.lower())
    if conn is not None:
        row = conn.execute(query).first()
    else:
        with store.read() as own:
            row = own.execute(query).first()
    return _from_row(row) if row is not None else None


def list_deployments(store: Store) -> list[Deployment]:
    """Every deployment, oldest first."""
    with store.read() as conn:
        rows = conn.execute(
            select(schema.deployments).order_by(schema.deployments.c.created_at)
        ).all()
    return [_from_row(r) for r in rows]


_PER_DEPLOYMENT = (
    schema.service_hourly,
    schema.drift_hourly,
    schema.accuracy_rows,
    schema.accuracy_hourly,
    schema.accuracy_orphans,
    schema.custom_metric_hourly,
    schema.events,
    schema.alert_state,
    schema.status_jobs,
)


def delete_deployment(store: Store, deployment_id: str) -> bool:
    """Delete a deployment and everything recorded for it; ``False`` when unknown."""
    deployment_id = deployment_id.lower()
    with store.write() as conn:
        store.lock_deployment(conn, deployment_id)
        result = conn.execute(
            delete(schema.deployments).where(schema.deployments.c.id == deployment_id)
        )
        if not result.rowcount:
            return False
        for table in _PER_DEPLOYMENT:
            conn.execute(delete(table).where(table.c.deployment_id == deployment_id))
    return True
