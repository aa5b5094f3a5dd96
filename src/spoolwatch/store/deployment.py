"""A deployment: a model being monitored, with its target, drift baseline and accuracy
settings, and the checks its fields must pass (no database)."""

from __future__ import annotations

import math
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.accuracy_health import ACCURACY_HEALTH_METRICS
from spoolwatch.monitoring.baseline import Baseline

__all__ = [
    "ACCURACY_METRICS_BY_TYPE",
    "TARGET_TYPES",
    "AccuracySettings",
    "AccuracySettingsError",
    "Deployment",
    "DeploymentFieldError",
    "check_accuracy",
    "check_target",
    "new_object_id",
    "validate_object_id",
]

TARGET_TYPES = ("binary", "multiclass", "regression")
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


class DeploymentFieldError(ConfigError):
    """A setting of a new deployment that does not fit. ``field`` names it in neutral words
    (``name``, ``type``, ``target``, ``class_names``, ``feature_types``, ``training_data``,
    ``id``, ``model_id``) so that each front end shows its own name for it (the CLI's
    ``--target``, the API's ``targetName``); ``reason`` is the message without the name."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AccuracySettingsError(ConfigError):
    """A deployment's accuracy settings do not fit; ``field`` is ``metric``, ``yellow``,
    ``red`` or ``baseline``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


#: Accuracy metrics a deployment may be judged by, per target type; the first is the default.
ACCURACY_METRICS_BY_TYPE = {
    "binary": ("accuracy", "logLoss"),
    "multiclass": ("accuracy", "logLoss"),
    "regression": ("rmse", "mae"),
}


@dataclass(frozen=True)
class AccuracySettings:
    """How one deployment's accuracy is judged; ``None`` takes the service's default.

    ``yellow``/``red`` are relative degradations against the reference (0.1 = 10 %);
    ``baseline_value`` replaces the reference measured on the deployment's first joined rows.
    """

    metric: str | None = None
    yellow: float | None = None
    red: float | None = None
    baseline_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "metric": self.metric,
            "yellow": self.yellow,
            "red": self.red,
            "baselineValue": self.baseline_value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccuracySettings:
        """Read the stored form."""
        return cls(
            metric=data.get("metric"),
            yellow=data.get("yellow"),
            red=data.get("red"),
            baseline_value=data.get("baselineValue"),
        )

    def to_json(self) -> dict[str, Any]:
        """As the API shows it: thresholds in percent."""
        return {
            "metric": self.metric,
            "yellowPercent": None if self.yellow is None else round(self.yellow * 100, 10),
            "redPercent": None if self.red is None else round(self.red * 100, 10),
            "baselineValue": self.baseline_value,
        }


def _check_threshold(field: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise AccuracySettingsError(field, f"{field} threshold must be above 0 %, got {value!r}")


def check_accuracy(
    target_type: str,
    settings: AccuracySettings | None,
    *,
    default_yellow: float = 0.10,
    default_red: float = 0.20,
) -> AccuracySettings | None:
    """``settings`` checked against the target type and completed: the metric named (the
    type's default when not given) and a threshold given alone paired with the default of
    the other. :class:`AccuracySettingsError` names the field that does not fit."""
    if settings is None or settings == AccuracySettings():
        return None
    allowed = ACCURACY_METRICS_BY_TYPE.get(target_type, ())
    metric = settings.metric or (allowed[0] if allowed else None)
    if metric not in ACCURACY_HEALTH_METRICS:
        raise AccuracySettingsError(
            "metric", f"accuracy metric {metric!r} is not one of {', '.join(allowed)}"
        )
    if metric not in allowed:
        raise AccuracySettingsError(
            "metric",
            f"accuracy metric {metric!r} does not apply to {target_type} deployments; "
            f"use {' or '.join(allowed)}",
        )
    _check_threshold("yellow", settings.yellow)
    _check_threshold("red", settings.red)
    yellow, red = settings.yellow, settings.red
    if (yellow is None) != (red is None):
        yellow = default_yellow if yellow is None else yellow
        red = default_red if red is None else red
    if yellow is not None and red is not None and yellow >= red:
        field = "yellow" if settings.yellow is not None else "red"
        raise AccuracySettingsError(
            field,
            f"the yellow threshold ({yellow * 100:g} %) must be below the red threshold "
            f"({red * 100:g} %)",
        )
    if red is not None and metric == "accuracy" and red > 1:
        raise AccuracySettingsError(
            "red",
            f"accuracy cannot fall by more than 100 %, so a red threshold of "
            f"{red * 100:g} % would never be reached",
        )
    _check_baseline(metric, settings.baseline_value)
    return AccuracySettings(metric, yellow, red, settings.baseline_value)


def _check_baseline(metric: str, value: float | None) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise AccuracySettingsError("baseline", f"baseline value must be finite, got {value!r}")
    if metric == "accuracy" and not 0 < value <= 1:
        raise AccuracySettingsError(
            "baseline", f"an accuracy baseline is a share in (0, 1], got {value!r}"
        )
    if metric != "accuracy" and value < 0:
        raise AccuracySettingsError(
            "baseline", f"a {metric} baseline cannot be negative, got {value!r}"
        )


def new_object_id() -> str:
    """A fresh 24-hex-character id, shaped like DataRobot's ids."""
    return f"{int(time.time()):08x}" + secrets.token_hex(8)


def validate_object_id(value: str, field: str) -> str:
    """``value`` lower-cased when it is 24 hex characters, else :class:`DeploymentFieldError`
    naming ``field`` (``id`` or ``model_id``)."""
    lowered = value.lower()
    if not _OBJECT_ID.match(lowered):
        raise DeploymentFieldError(field, f"{value!r} is not an id of 24 hexadecimal characters")
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
    accuracy: AccuracySettings | None = None

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
            "accuracy": self.accuracy.to_json() if self.accuracy is not None else None,
        }


def check_target(target_type: str, class_names: tuple[str, ...]) -> None:
    """Reject a target type we do not know or class names that do not fit it."""
    if target_type not in TARGET_TYPES:
        raise DeploymentFieldError(
            "type", f"{target_type!r} is not one of {', '.join(TARGET_TYPES)}"
        )
    if target_type == "regression" and class_names:
        raise DeploymentFieldError("class_names", "a regression deployment has no classes")
    if target_type == "binary" and class_names and len(class_names) != 2:
        raise DeploymentFieldError(
            "class_names", f"binary needs 2 class names, got {len(class_names)}"
        )
    if target_type == "multiclass" and class_names and len(class_names) < 3:
        raise DeploymentFieldError("class_names", "multiclass needs at least 3 class names")
    if len(set(class_names)) != len(class_names):
        raise DeploymentFieldError("class_names", "class names must be distinct")
    if any(not name for name in class_names):
        raise DeploymentFieldError("class_names", "class names must not be empty")
