"""DataRobot's ingestion endpoints: the agent (ours or DataRobot's library) posts here.

Every route answers 202 like DataRobot, once the request's group commit committed (see
:mod:`spoolwatch.server.writer`); actuals add ``Location: <base>/api/v2/status/<id>/``,
which answers 303 (done). A repeated ``Idempotency-Key`` replays the first answer without
folding again; ``X-Spoolwatch-Record-Ids`` (comma-separated record ids) lets the store drop
records it already has.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from spoolwatch.server import schemas
from spoolwatch.server.auth import require_ingest
from spoolwatch.server.ingestion import IngestError, IngestKind
from spoolwatch.server.writer import IngestWriter
from spoolwatch.store.base import Store, StoreUnavailable
from spoolwatch.store.ingest_log import status_job_deployment

__all__ = [
    "BODY_SCHEMAS",
    "absolute_location",
    "answer",
    "record_ids",
    "record_items",
    "router",
    "store_unavailable",
]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v2", dependencies=[Depends(require_ingest)], tags=["ingestion"])

#: Models documented as request bodies (their ``$defs`` are added to the OpenAPI components).
BODY_SCHEMAS: list[type[BaseModel]] = []

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, malformed or invalid token"},
    404: {"description": "unknown deployment"},
    413: {"description": "body larger than the configured limit"},
    422: {"description": "invalid body; `detail[].loc` names the field"},
}


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    BODY_SCHEMAS.append(model)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def record_ids(header: str) -> list[str]:
    """``X-Spoolwatch-Record-Ids``: the request's record ids, comma-separated."""
    return [part.strip() for part in header.split(",") if part.strip()]


def record_items(header: str) -> list[int]:
    """``X-Spoolwatch-Record-Items``: items per record, comma-separated whole numbers."""
    parts = [part.strip() for part in header.split(",") if part.strip()]
    if not all(part.isdigit() and len(part) <= 9 for part in parts):
        loc = ["header", "X-Spoolwatch-Record-Items"]
        msg = "comma-separated counts of items per record are expected"
        raise IngestError(422, [{"loc": loc, "msg": msg, "type": "value_error"}])
    return [int(part) for part in parts]


async def answer(
    writer: IngestWriter,
    kind: IngestKind,
    deployment_id: str | None,
    body: bytes,
    headers: Mapping[str, str],
    metric_id: str | None = None,
) -> tuple[int, Any, str | None]:
    """Fold one ingestion request and answer it: status, JSON content and the ``Location``
    path (actuals), once the request's group commit committed.

    ``headers`` are the request's, by lower-case name. Shared by the routes below and the
    direct lane (:mod:`spoolwatch.server.ingest_lane`), so both answer alike.
    """
    try:
        items = record_items(headers.get("x-spoolwatch-record-items", ""))
        result = await writer.answer(
            kind,
            deployment_id,
            body,
            metric_id=metric_id,
            idempotency_key=headers.get("idempotency-key") or None,
            record_ids=record_ids(headers.get("x-spoolwatch-record-ids", "")),
            record_items=items,
        )
    except IngestError as exc:
        return exc.status, {"detail": exc.detail}, None
    return result.status, result.body, result.location


def store_unavailable(exc: StoreUnavailable) -> JSONResponse:
    """503 with Retry-After: agents keep their records and retry later. The app's exception
    handler and the ingestion lane both answer it."""
    logger.warning("store unavailable: %s", exc)
    return JSONResponse(
        {"detail": "the database is unavailable; retry later"},
        status_code=503,
        headers={"Retry-After": "2"},
    )


def absolute_location(request: Request, location: str) -> str:
    """``location`` (a path) made absolute, as DataRobot answers: its clients poll the
    header's URL as given."""
    return str(request.base_url).rstrip("/") + location


async def _ingest(
    request: Request, kind: IngestKind, deployment_id: str | None, metric_id: str | None = None
) -> Response:
    # The group-commit writer folds this request with whatever else is waiting; the event
    # loop's thread pool stays free for reads.
    body = await request.body()
    status, content, location = await answer(
        request.app.state.writer, kind, deployment_id, body, request.headers, metric_id
    )
    headers = None
    if location:
        headers = {"Location": absolute_location(request, location)}
    return JSONResponse(content, status_code=status, headers=headers)


def _route(path: str, kind: IngestKind, model: type[BaseModel], summary: str) -> None:
    async def endpoint(request: Request, deployment_id: str) -> Response:
        return await _ingest(request, kind, deployment_id)

    endpoint.__name__ = f"ingest_{kind.value}"
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        status_code=202,
        summary=summary,
        response_model=schemas.IngestAccepted,
        responses=_RESPONSES,
        openapi_extra=_documented(model),
    )


_route(
    "/deployments/{deployment_id}/predictionRequests/fromJSON/",
    IngestKind.PREDICTION_REQUESTS,
    schemas.PredictionRequestsBody,
    "Service statistics of prediction requests (DEPLOYMENT_STATS)",
)
_route(
    "/deployments/{deployment_id}/predictionInputs/fromJSON/",
    IngestKind.PREDICTION_INPUTS,
    schemas.PredictionInputsBody,
    "Features and predictions (PREDICTIONS_DATA): drift and accuracy",
)
_route(
    "/deployments/{deployment_id}/predictionStats/fromJSON/",
    IngestKind.PREDICTION_STATS,
    schemas.PredictionStatsBody,
    "Client-side aggregated statistics (PREDICTION_STATS)",
)
_route(
    "/deployments/{deployment_id}/actuals/fromJSON/",
    IngestKind.ACTUALS,
    schemas.ActualsBody,
    "Actuals (ground truth) by association id; 202 + Location",
)


@router.post(
    "/deployments/{deployment_id}/customMetrics/{metric_id}/fromJSON/",
    status_code=202,
    response_model=schemas.IngestAccepted,
    responses=_RESPONSES,
    openapi_extra=_documented(schemas.CustomMetricBody),
    summary="Custom metric values (CUSTOM_METRIC)",
)
async def ingest_custom_metric(request: Request, deployment_id: str, metric_id: str) -> Response:
    """Fold custom-metric buckets into count, sum and last value per hour."""
    return await _ingest(request, IngestKind.CUSTOM_METRIC, deployment_id, metric_id)


@router.post(
    "/remoteEvents/",
    status_code=202,
    response_model=schemas.IngestAccepted,
    responses=_RESPONSES,
    openapi_extra=_documented(schemas.RemoteEventBody),
    summary="A deployment event (EVENT)",
)
async def ingest_remote_event(request: Request) -> Response:
    """Store one event; its ``deploymentId`` must name a known deployment when given."""
    return await _ingest(request, IngestKind.REMOTE_EVENTS, None)


@router.get(
    "/status/{status_id}/",
    status_code=303,
    summary="Status of an actuals upload",
    responses={303: {"description": "done"}, 404: {"description": "unknown status"}},
)
def upload_status(request: Request, status_id: str) -> Response:
    """303 to the deployment's accuracy once the upload is folded (always, here: uploads are
    folded before the 202 is sent)."""
    store: Store = request.app.state.store
    deployment_id = status_job_deployment(store, status_id)
    if deployment_id is None:
        return JSONResponse({"detail": f"status {status_id} not found"}, status_code=404)
    return RedirectResponse(f"/api/v2/deployments/{deployment_id}/accuracy/", status_code=303)
