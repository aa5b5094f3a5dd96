"""``/api/v2/deployments/``: create and delete (scope ``admin``), list and get (``read``).

The upload of a training-data file is :mod:`spoolwatch.server.training_upload`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from spoolwatch.errors import ConfigError
from spoolwatch.server import schemas
from spoolwatch.server.auth import require_admin, require_read
from spoolwatch.server.query import deployment_health
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import (
    AccuracySettings,
    AccuracySettingsError,
    Deployment,
    DeploymentFieldError,
)
from spoolwatch.store.deployment_spec import DeploymentSpec, build_deployment
from spoolwatch.store.deployments import (
    DeploymentExists,
    create_deployment,
    delete_deployment,
    get_deployment,
    list_deployments,
)

__all__ = ["deployment_from_request", "router", "store_new_deployment", "unprocessable"]

router = APIRouter(prefix="/api/v2", tags=["deployments"])
_ADMIN = [Depends(require_admin)]
_READ = [Depends(require_read)]

#: A deployment setting's name in the JSON body (``loc`` of a 422).
_JSON_FIELDS = {
    "name": ("label",),
    "type": ("targetType",),
    "target": ("targetName",),
    "class_names": ("classNames",),
    "feature_types": ("featureTypes",),
    "training_data": ("trainingData",),
    "id": ("id",),
    "model_id": ("modelId",),
    "metric": ("accuracy", "metric"),
    "yellow": ("accuracy", "yellowPercent"),
    "red": ("accuracy", "redPercent"),
    "baseline": ("accuracy", "baselineValue"),
}


def _accuracy_settings(given: schemas.AccuracySettingsBody | None) -> AccuracySettings | None:
    if given is None:
        return None
    return AccuracySettings(
        metric=given.metric,
        yellow=None if given.yellowPercent is None else given.yellowPercent / 100,
        red=None if given.redPercent is None else given.redPercent / 100,
        baseline_value=given.baselineValue,
    )


def deployment_from_request(
    body: schemas.DeploymentCreate, settings: ServerSettings | None = None
) -> Deployment:
    """A :class:`Deployment` from the API body (baseline from ``trainingData`` if given);
    :class:`ConfigError` naming the field when something does not fit."""
    settings = settings or ServerSettings()
    frame = None
    if body.trainingData is not None:
        import pandas as pd

        lengths = {len(v) for v in body.trainingData.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise DeploymentFieldError(
                "training_data", "columns must be non-empty and of equal length"
            )
        frame = pd.DataFrame(body.trainingData)
    spec = DeploymentSpec(
        name=body.label or body.name or "deployment",
        target_type=body.targetType,
        target_name=body.targetName,
        class_names=tuple(body.classNames or ()),
        feature_types=body.featureTypes or {},
        deployment_id=body.id,
        model_id=body.modelId,
        accuracy=_accuracy_settings(body.accuracy),
    )
    return build_deployment(
        spec, frame, default_yellow=settings.accuracy_yellow, default_red=settings.accuracy_red
    )


def unprocessable(loc: tuple[str, ...], message: str) -> HTTPException:
    """A 422 whose ``detail[].loc`` names the field, as FastAPI's own are."""
    detail = [{"loc": ["body", *loc], "msg": message, "type": "value_error"}]
    return HTTPException(status_code=422, detail=detail)


def store_new_deployment(
    request: Request, build: Callable[[], Deployment], fields: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    """Build a deployment with ``build()`` and store it: 422 naming the field (as ``fields``
    name it) when a setting does not fit, 409 when the id is taken."""
    store: Store = request.app.state.store
    try:
        deployment = create_deployment(store, build())
    except AccuracySettingsError as exc:
        raise unprocessable(fields[exc.field], str(exc)) from exc
    except DeploymentFieldError as exc:
        raise unprocessable(fields[exc.field], exc.reason) from exc
    except DeploymentExists as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    except ConfigError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    request.app.state.ingestor.forget(deployment.id)
    return deployment.to_json()


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
    settings = request.app.state.settings
    return store_new_deployment(
        request, lambda: deployment_from_request(body, settings), _JSON_FIELDS
    )


def _response(request: Request, deployment: Deployment, with_health: bool) -> dict[str, Any]:
    data = deployment.to_json()
    if with_health:
        data.update(
            deployment_health(request.app.state.store, deployment, request.app.state.settings)
        )
    return data


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
