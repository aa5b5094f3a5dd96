"""A new deployment from its settings and training data, checked in one place.

The CLI working on the database, ``POST /api/v2/deployments/`` (JSON columns) and
``POST /api/v2/deployments/fromTrainingData/`` (an uploaded file) all build deployments
here, so they refuse the same input with the same reasons. A refusal is a
:class:`~spoolwatch.store.deployment.DeploymentFieldError` (or
:class:`~spoolwatch.store.deployment.AccuracySettingsError`) naming the setting; each front
end shows it under its own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spoolwatch.store.deployment import (
    AccuracySettings,
    Deployment,
    DeploymentFieldError,
    check_accuracy,
    check_target,
    new_object_id,
    validate_object_id,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DeploymentSpec", "build_deployment", "parse_class_names", "parse_feature_types"]


@dataclass(frozen=True, kw_only=True)
class DeploymentSpec:
    """What a user asks for when creating a deployment (all but the training data)."""

    name: str
    target_type: str
    target_name: str | None = None
    #: in the order of the model's probabilities; empty: taken from the training data when
    #: unambiguous (see :mod:`spoolwatch.store.training`)
    class_names: tuple[str, ...] = ()
    feature_types: Mapping[str, str] = field(default_factory=dict)
    deployment_id: str | None = None
    model_id: str | None = None
    accuracy: AccuracySettings | None = None


def parse_class_names(text: str | None) -> tuple[str, ...]:
    """``"a,b"`` as ``("a", "b")``; empty or ``None`` as no names."""
    if not text or not text.strip():
        return ()
    return tuple(name.strip() for name in text.split(","))


def parse_feature_types(values: list[str]) -> dict[str, str]:
    """``["NAME=numeric", ...]`` as ``{"NAME": "numeric"}``."""
    out = {}
    for value in values:
        name, sep, kind = value.partition("=")
        if not sep or not name or kind not in {"numeric", "categorical"}:
            raise DeploymentFieldError(
                "feature_types", f"expected NAME=numeric|categorical, got {value!r}"
            )
        out[name] = kind
    return out


def build_deployment(
    spec: DeploymentSpec,
    training: pd.DataFrame | None,
    *,
    default_yellow: float = 0.10,
    default_red: float = 0.20,
) -> Deployment:
    """The :class:`Deployment` ``spec`` asks for, its baseline built from ``training`` (which
    includes the target column) when given. Raises a ``ConfigError`` naming the setting."""
    check_target(spec.target_type, spec.class_names)
    accuracy = check_accuracy(
        spec.target_type, spec.accuracy, default_yellow=default_yellow, default_red=default_red
    )
    ids = (
        validate_object_id(spec.deployment_id, "id") if spec.deployment_id else new_object_id(),
        validate_object_id(spec.model_id, "model_id") if spec.model_id else new_object_id(),
    )
    if not spec.name.strip():
        raise DeploymentFieldError("name", "a deployment needs a non-empty name")
    class_names = spec.class_names
    baseline = None
    if training is not None:
        from spoolwatch.store.training import baseline_from_frame

        if not spec.target_name:
            raise DeploymentFieldError("target", "required with training data")
        baseline, class_names = baseline_from_frame(
            training,
            target=spec.target_name,
            target_type=spec.target_type,
            class_names=class_names,
            feature_types=spec.feature_types,
        )
    return Deployment(
        id=ids[0],
        name=spec.name,
        model_id=ids[1],
        target_type=spec.target_type,
        target_name=spec.target_name,
        class_names=class_names,
        baseline=baseline,
        accuracy=accuracy,
    )
