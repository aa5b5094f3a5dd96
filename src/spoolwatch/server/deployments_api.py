"""``/api/v2/deployments/``: create and delete (scope ``admin``), list and get (``read``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from spoolwatch.errors import ConfigError
from spoolwatch.server import schemas
from spoolwatch.server.auth import require_admin, require_read
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.base import Store
from spoolwatch.store.deployments import (
    AccuracySettings,
    AccuracySettingsError,
    Deployment,
    DeploymentExists,
    check_accuracy,
    check_target,
    create_deployment,
    delete_deployment,
    get_deployment,
    list_deployments,
    new_object_id,
    validate_object_id,
)

__all__ = ["deployment_from_request", "router"]

router = APIRouter(prefix="/api/v2", tags=["deployments"])
_ADMIN = [Depends(require_admin)]
_READ = [Depends(require_read)]


_ACCURACY_FIELDS = {
    "metric": "metric",
    "yellow": "yellowPercent",
    "red": "redPercent",
    "baseline": "baselineValue",
}


def _accuracy(body: schemas.DeploymentCreate, settings: ServerSettings) -> AccuracySettings | None:
    given = body.accuracy
    if given is None:
        return None
    return check_accuracy(
        body.targetType,
        AccuracySettings(
            metric=given.metric,
            yellow=None if given.yellowPercent is None else given.yellowPercent / 100,
            red=None if given.redPercent is None else given.redPercent / 100,
            baseline_value=given.baselineValue,
        ),
        default_yellow=settings.accuracy_yellow,
        default_red=settings.accuracy_red,
    )


def deployment_from_request(
    body: schemas.DeploymentCreate, settings: ServerSettings | None = None
) -> Deployment:
    """A :class:`Deployment` from the API body (baseline from ``trainingData`` if given);
    :class:`ConfigError` naming the field when something does not fit."""
    class_names = tuple(body.classNames or ())
    check_target(body.targetType, class_names)
    accuracy = _accuracy(body, settings or ServerSettings())
    baseline = None
    if body.trainingData is not None:
        import pandas as pd

        from spoolwatch.store.training import baseline_from_frame

        if not body.targetName:
            raise ConfigError("targetName: required with trainingData")
        lengths = {len(v) for v in body.trainingData.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise ConfigError("trainingData: columns must be non-empty and of equal length")
        baseline, class_names = baseline_from_frame(
            pd.DataFrame(body.trainingData),
            target=body.targetName,
            target_type=body.targetType,
            class_names=class_names,
            feature_types=body.featureTypes,
        )
    return Deployment(
        id=validate_object_id(body.id, "id") if body.id else new_object_id(),
        name=body.label or body.name or "deployment",
        model_id=validate_object_id(body.modelId, "modelId") if body.modelId else new_object_id(),
        target_type=body.targetType,
        target_name=body.targetName,
        class_names=class_names,
        baseline=baseline,
        accuracy=accuracy,
    )


def _response(request: Request, deployment: Deployment, with_health: bool) -> dict[str, Any]:
    data = deployment.to_json()
    if with_health:
        from spoolwatch.server.query import deployment_health

        data.update(
            deployment_health(request.app.state.store, deployment, request.app.state.settings)
        )
    return data


@router.post(
    "/deployments/",
    status_code=201,
    response_model=schemas.DeploymentResponse,
    responses={409: {"description": "id already taken"}, 422: {"description": "invalid body"}},
    dependencies=_ADMIN,
)
def create(request: Request, body: schemas.DeploymentCreate) -> dict[str, Any]:
    """Create a deployment (optionally with given ``id``/``modelId``, training data and its
    own ``accuracy`` settings: metric, yellow/red thresholds in percent, baseline value)."""
    store: Store = request.app.state.store
    try:
        deployment = create_deployment(
            store, deployment_from_request(body, request.app.state.settings)
        )
    except AccuracySettingsError as exc:
        field = _ACCURACY_FIELDS.get(exc.field, exc.field)
        detail = [{"loc": ["body", "accuracy", field], "msg": str(exc), "type": "value_error"}]
        raise HTTPException(status_code=422, detail=detail) from exc
    except DeploymentExists as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    except ConfigError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    request.app.state.ingestor.forget(deployment.id)
    return deployment.to_json()


@router.get("/deployments/", response_model=schemas.DeploymentList, dependencies=_READ)
async def list_all(request: Request) -> dict[str, Any]:
    """Every deployment with its service, drift and accuracy status over the last day."""

    def work() -> dict[str, Any]:
        data = [_response(request, d, True) for d in list_deployments(request.app.state.store)]
        return {"count": len(data), "data": data}

    return await run_in_threadpool(work)


@router.get(
    "/deployments/{deployment_id}/",
    response_model=schemas.DeploymentResponse,
    responses={404: {"description": "unknown deployment"}},
    dependencies=_READ,
)
def get_one(request: Request, deployment_id: str) -> dict[str, Any]:
    """One deployment with its statuses over the last day."""
    deployment = get_deployment(request.app.state.store, deployment_id)
    if deployment is None:
        raise HTTPException(status_code=404, detail=f"deployment {deployment_id} not found")
    return _response(request, deployment, True)


@router.delete(
    "/deployments/{deployment_id}/",
    status_code=204,
    responses={404: {"description": "unknown deployment"}},
    dependencies=_ADMIN,
)
def delete(request: Request, deployment_id: str) -> Response:
    """Delete a deployment and everything recorded for it."""
    if not delete_deployment(request.app.state.store, deployment_id):
        raise HTTPException(status_code=404, detail=f"deployment {deployment_id} not found")
    request.app.state.ingestor.forget(deployment_id)
    return Response(status_code=204)
