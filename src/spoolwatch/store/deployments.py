"""Deployments: a model being monitored, with its target and drift baseline."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import IntegrityError

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.baseline import Baseline
from spoolwatch.store import schema
from spoolwatch.store.base import Store

__all__ = [
    "TARGET_TYPES",
    "Deployment",
    "DeploymentExists",
    "create_deployment",
    "delete_deployment",
    "get_deployment",
    "list_deployments",
    "new_object_id",
    "validate_object_id",
]

TARGET_TYPES = ("binary", "multiclass", "regression")
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


class DeploymentExists(ConfigError):
    """A deployment with that id already exists."""


def new_object_id() -> str:
    """A fresh 24-hex-character id, shaped like DataRobot's ids."""
    return f"{int(time.time()):08x}" + secrets.token_hex(8)


def validate_object_id(value: str, what: str) -> str:
    """``value`` lower-cased when it is 24 hex characters, else :class:`ConfigError`."""
    lowered = value.lower()
    if not _OBJECT_ID.match(lowered):
        raise ConfigError(f"{what}: {value!r} is not an id of 24 hexadecimal characters")
    return lowered


@dataclass(frozen=True, eq=False)
class Deployment:
    """A monitored deployment. ``baseline`` is ``None`` when no training data was given."""

    id: str
    name: str
    model_id: str
    target_type: str
    target_name: str | None = None
    class_names: tuple[str, ...] = ()
    baseline: Baseline | None = None
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """The deployment as the API shows it."""
        features: list[dict[str, Any]] = []
        if self.baseline is not None:
            features = [
                {"name": f.name, "featureType": f.kind.value}
                for f in self.baseline.features.values()
            ]
        return {
            "id": self.id,
            "label": self.name,
            "modelId": self.model_id,
            "targetType": self.target_type,
            "targetName": self.target_name,
            "classNames": list(self.class_names),
            "features": features,
            "hasBaseline": self.baseline is not None,
            "createdAt": self.created_at,
        }


def check_target(target_type: str, class_names: tuple[str, ...]) -> None:
    """Reject a target type we do not know or class names that do not fit it."""
    if target_type not in TARGET_TYPES:
        raise ConfigError(f"--type: {target_type!r} is not one of {', '.join(TARGET_TYPES)}")
    if target_type == "regression" and class_names:
        raise ConfigError("--class-names: a regression deployment has no classes")
    if target_type == "binary" and class_names and len(class_names) != 2:
        raise ConfigError(f"--class-names: binary needs 2 class names, got {len(class_names)}")
    if target_type == "multiclass" and class_names and len(class_names) < 3:
        raise ConfigError("--class-names: multiclass needs at least 3 class names")
    if len(set(class_names)) != len(class_names):
        raise ConfigError("--class-names: class names must be distinct")


def create_deployment(store: Store, deployment: Deployment) -> Deployment:
    """Insert ``deployment``; :class:`DeploymentExists` when its id is taken."""
    check_target(deployment.target_type, deployment.class_names)
    values = {
        "id": validate_object_id(deployment.id, "id"),
        "name": deployment.name,
        "model_id": validate_object_id(deployment.model_id, "modelId"),
        "target_type": deployment.target_type,
        "target_name": deployment.target_name,
        "class_names": orjson.dumps(list(deployment.class_names)).decode(),
        "baseline": (
            orjson.dumps(deployment.baseline.to_dict()).decode()
            if deployment.baseline is not None
            else None
        ),
        "created_at": deployment.created_at,
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
