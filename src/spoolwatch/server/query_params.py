"""What the query endpoints share: their period, model and bucket parameters, the 404 of an
unknown deployment, and the dependency that looks the deployment up."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request

from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import get_deployment

__all__ = ["NOT_FOUND", "Bucket", "End", "ModelId", "Start", "require_deployment"]

Start = Annotated[datetime | None, Query(description="period start (ISO 8601; naive = UTC)")]
End = Annotated[datetime | None, Query(description="period end (exclusive)")]
ModelId = Annotated[str | None, Query(alias="modelId", description="only this model")]
Bucket = Annotated[str | None, Query(alias="bucketSize", description="PT1H, P1D or P7D")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown deployment"}}


def require_deployment(request: Request, deployment_id: str) -> Deployment:
    """The deployment of the path, or 404."""
    deployment = get_deployment(request.app.state.store, deployment_id)
    if deployment is None:
        raise HTTPException(status_code=404, detail=f"deployment {deployment_id} not found")
    return deployment
