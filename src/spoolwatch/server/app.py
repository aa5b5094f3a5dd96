"""The monitoring service: ``create_app()`` builds the FastAPI application.

Routers: deployments, DataRobot ingestion, the record ids already ingested, queries, the
agents' heartbeats, the serverless fleet, Prometheus ``/metrics`` and, when
``spoolwatch.server.dashboard`` is installed, the dashboard pages. OpenAPI at
``/openapi.json``, shown by ``/docs`` and ``/redoc`` (:mod:`~spoolwatch.server.api_docs`, no
CDN).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from spoolwatch.errors import ConfigError
from spoolwatch.server import (
    api_docs,
    deployments_api,
    fleet_api,
    heartbeats_api,
    ingest_api,
    known_records,
    outcomes,
    probes,
    prometheus,
    query,
    schemas,
    tokens_api,
    training_upload,
)
from spoolwatch.server.alerts import AlertNotifier
from spoolwatch.server.auth import TokenChecker, require_token
from spoolwatch.server.fleet_api import FleetRead
from spoolwatch.server.ingest_lane import IngestLane
from spoolwatch.server.ingestion import Ingestor, IngestResult
from spoolwatch.server.limits import BodyLimit, NulGuard
from spoolwatch.server.request_ids import RequestIds
from spoolwatch.server.settings import ServerSettings
from spoolwatch.server.writer import IngestWriter
from spoolwatch.store.base import Store, StoreUnavailable, open_store
from spoolwatch.version import __version__

__all__ = [
    "API_MINOR_VERSION",
    "ServiceApp",
    "create_app",
]

logger = logging.getLogger(__name__)

#: Reported by ``GET /api/v2/version/``; DataRobot's clients need at least 2.31.
API_MINOR_VERSION = 33


class ServiceApp(FastAPI):
    """The FastAPI application with the direct ingestion lane in front of it: every request
    gets its id (:class:`~spoolwatch.server.request_ids.RequestIds`), then meets
    :class:`~spoolwatch.server.ingest_lane.IngestLane`, which answers plain ingestion POSTs
    itself and hands everything else to FastAPI."""

    front: RequestIds | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
        else:
            await self.front(scope, receive, send)


def create_app(
    store: Store | str | None = None,
    *,
    settings: ServerSettings | None = None,
    fleet_read: FleetRead | None = None,
) -> FastAPI:
    """The service over ``store`` (a :class:`Store`, a database URL, or ``settings.db_url``).

    The store is migrated when opened here. ``app.state`` holds ``store``, ``settings``,
    ``ingestor`` (:class:`~spoolwatch.server.ingestion.Ingestor`), ``writer`` (its
    group-commit :class:`~spoolwatch.server.writer.IngestWriter`), ``alerts``, ``counters``
    and ``fleet_reader`` (``None`` without a serverless fleet) for routers mounted on top.

    ``fleet_read`` reads the serverless fleet the settings name; the service itself knows no
    AWS, so :func:`spoolwatch.service_app.build_app` passes the reader that does.
    """
    settings = settings or ServerSettings()
    if settings.fleet_configured and fleet_read is None:
        raise ConfigError(
            "the settings name a serverless fleet but no reader for it was given: "
            "build the app with spoolwatch.service_app.build_app"
        )
    if not isinstance(store, Store):
        store = open_store(store or settings.db_url)
    alerts = AlertNotifier(store, settings)
    counters = prometheus.Counters()

    def after_ingest(result: IngestResult) -> None:
        counters.ingested(result)
        alerts.consider(result)

    ingestor = Ingestor(store, cache_seconds=settings.cache_seconds, on_ingested=after_ingest)
    writer = IngestWriter(ingestor)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        writer.close()
        alerts.close()

    app = ServiceApp(
        title="spoolwatch monitoring service",
        version=__version__,
        description="DataRobot-compatible ingestion and deployment monitoring queries.",
        lifespan=lifespan,
        # FastAPI's own pages load their scripts from a CDN; api_docs serves them offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.token_checker = (
        TokenChecker(store, cache_seconds=settings.cache_seconds) if settings.auth else None
    )
    app.state.ingestor = ingestor
    app.state.writer = writer
    app.state.alerts = alerts
    app.state.counters = counters
    app.state.fleet_reader = (
        fleet_api.FleetReader(settings, read=fleet_read)
        if settings.fleet_configured and fleet_read is not None
        else None
    )
    app.add_middleware(NulGuard)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.front = RequestIds(
        IngestLane(
            functools.partial(FastAPI.__call__, app),
            writer=writer,
            checker=app.state.token_checker,
            max_bytes=settings.max_body_bytes,
        )
    )
    app.add_exception_handler(StoreUnavailable, _store_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]

    app.add_api_route(
        "/api/v2/version/",
        version,
        methods=["GET"],
        response_model=schemas.VersionResponse,
        dependencies=[Depends(require_token)],
        tags=["service"],
    )
    for module in (
        deployments_api,
        training_upload,
        ingest_api,
        known_records,
        query,
        outcomes,
        heartbeats_api,
        fleet_api,
        tokens_api,
        prometheus,
        api_docs,
        probes,
    ):
        app.include_router(module.router)
    if settings.dashboard:
        _include_dashboard(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _store_unavailable(_request: Request, exc: StoreUnavailable) -> JSONResponse:
    return ingest_api.store_unavailable(exc)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each field, without echoing the input: it may be NaN (not JSON), huge, or
    a secret sent to the wrong field."""
    detail = [
        {key: value for key, value in error.items() if key not in {"input", "url"}}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


async def version() -> dict[str, Any]:
    """The API version, shaped like DataRobot's (its clients check ``major``/``minor``).

    Asynchronous: it needs no thread, so it answers even when every worker thread is busy.
    """
    return {"major": 2, "minor": API_MINOR_VERSION, "versionString": f"2.{API_MINOR_VERSION}"}


def _include_dashboard(app: FastAPI) -> None:
    if importlib.util.find_spec("spoolwatch.server.dashboard") is None:
        return
    dashboard = importlib.import_module("spoolwatch.server.dashboard")
    router = getattr(dashboard, "router", None)
    if router is not None:
        app.include_router(router)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in ingest_api.BODY_SCHEMAS:
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in body.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components[model.__name__] = body
    app.openapi_schema = spec
    return spec
