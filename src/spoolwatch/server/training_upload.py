"""``POST /api/v2/deployments/fromTrainingData/`` (scope ``admin``): a deployment from an
uploaded CSV or Parquet file, ``multipart/form-data``, checked by the same code as the JSON
route and the CLI (:mod:`spoolwatch.store.deployment_spec`).

Form parsing needs ``python-multipart`` (in the ``server`` extra). Without it the route still
exists and answers 501 saying what to install, so the rest of the service starts.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from spoolwatch.server import schemas
from spoolwatch.server.auth import require_admin
from spoolwatch.server.deployments_api import store_new_deployment, unprocessable
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.deployment import AccuracySettings, Deployment
from spoolwatch.store.deployment_spec import DeploymentSpec, build_deployment, parse_class_names

__all__ = ["UPLOAD_FIELDS", "router"]

router = APIRouter(prefix="/api/v2", tags=["deployments"])
_ADMIN = [Depends(require_admin)]
_PATH = "/deployments/fromTrainingData/"

#: A deployment setting's form field in ``POST deployments/fromTrainingData/``.
UPLOAD_FIELDS = {
    "name": "label",
    "type": "targetType",
    "target": "targetName",
    "class_names": "classNames",
    "feature_types": "featureTypes",
    "training_data": "trainingData",
    "id": "id",
    "model_id": "modelId",
    "metric": "accuracyMetric",
    "yellow": "accuracyYellowPercent",
    "red": "accuracyRedPercent",
    "baseline": "accuracyBaselineValue",
}


if importlib.util.find_spec("python_multipart") is None:

    @router.post(_PATH, status_code=201, dependencies=_ADMIN, include_in_schema=True)
    async def create_from_training_data_unavailable() -> dict[str, Any]:
        """Answers 501: this installation cannot parse uploads."""
        raise HTTPException(
            status_code=501,
            detail="training-data uploads need python-multipart: pip install 'spoolwatch[server]'",
        )

else:
    _TargetType = Literal["binary", "multiclass", "regression"]

    @router.post(
        _PATH,
        status_code=201,
        response_model=schemas.DeploymentResponse,
        responses={409: {"description": "id already taken"}, 422: {"description": "invalid form"}},
        dependencies=_ADMIN,
    )
    async def create_from_training_data(
        request: Request,
        training_data: Annotated[
            UploadFile,
            File(alias="trainingData", description="CSV or Parquet file, target column included"),
        ],
        target_type: Annotated[_TargetType, Form(alias="targetType")],
        target_name: Annotated[str, Form(alias="targetName", min_length=1, max_length=200)],
        label: Annotated[str | None, Form(min_length=1, max_length=200)] = None,
        class_names: Annotated[
            str | None, Form(alias="classNames", description="comma-separated, in prediction order")
        ] = None,
        feature_types: Annotated[
            list[str] | None,
            Form(alias="featureTypes", description="repeatable: NAME=numeric|categorical"),
        ] = None,
        deployment_id: Annotated[str | None, Form(alias="id")] = None,
        model_id: Annotated[str | None, Form(alias="modelId")] = None,
        accuracy_metric: Annotated[str | None, Form(alias="accuracyMetric")] = None,
        accuracy_yellow: Annotated[
            float | None, Form(alias="accuracyYellowPercent", gt=0, allow_inf_nan=False)
        ] = None,
        accuracy_red: Annotated[
            float | None, Form(alias="accuracyRedPercent", gt=0, allow_inf_nan=False)
        ] = None,
        accuracy_baseline: Annotated[
            float | None, Form(alias="accuracyBaselineValue", allow_inf_nan=False)
        ] = None,
    ) -> dict[str, Any]:
        """Create a deployment from an uploaded training-data file (``multipart/form-data``):
        the same settings as ``POST deployments/``, as form fields, and the same checks."""
        texts = {
            "label": label,
            "targetName": target_name,
            "classNames": class_names,
            "id": deployment_id,
            "modelId": model_id,
            "accuracyMetric": accuracy_metric,
            **{f"featureTypes[{i}]": value for i, value in enumerate(feature_types or [])},
        }
        for name, value in texts.items():
            if value is not None and "\x00" in value:
                raise unprocessable((name,), schemas.NUL_MESSAGE)
        data = await training_data.read()
        filename = training_data.filename or "trainingData"
        settings: ServerSettings = request.app.state.settings

        def build() -> Deployment:
            from spoolwatch.store.deployment_spec import parse_feature_types
            from spoolwatch.store.training import read_training_bytes

            accuracy = AccuracySettings(
                metric=accuracy_metric,
                yellow=None if accuracy_yellow is None else accuracy_yellow / 100,
                red=None if accuracy_red is None else accuracy_red / 100,
                baseline_value=accuracy_baseline,
            )
            spec = DeploymentSpec(
                name=label or filename,
                target_type=target_type,
                target_name=target_name,
                class_names=parse_class_names(class_names),
                feature_types=parse_feature_types(feature_types or []),
                deployment_id=deployment_id,
                model_id=model_id,
                accuracy=accuracy,
            )
            return build_deployment(
                spec,
                read_training_bytes(data, filename),
                default_yellow=settings.accuracy_yellow,
                default_red=settings.accuracy_red,
            )

        fields = {key: (name,) for key, name in UPLOAD_FIELDS.items()}
        return await run_in_threadpool(store_new_deployment, request, build, fields)
