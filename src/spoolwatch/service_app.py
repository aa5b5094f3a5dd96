"""The monitoring service as ``spoolwatch serve`` runs it: the app with what lies beside it.

:func:`spoolwatch.server.app.create_app` builds the service from its store and settings and
knows nothing of AWS. :func:`build_app` adds the serverless fleet view when the settings name
a fleet, reading it from SQS and DynamoDB through :mod:`spoolwatch.serverless.fleet`, so
``server`` never imports ``serverless``. :func:`app_from_environment` is the uvicorn factory
of each worker process of ``spoolwatch serve --workers N``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from fastapi import FastAPI

from spoolwatch.runtime import tune_gc
from spoolwatch.scaling import ScalingSettings
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.serverless.aws import client
from spoolwatch.serverless.fleet import read_fleet_status
from spoolwatch.store.base import Store, open_store

__all__ = ["SETTINGS_ENV", "app_from_environment", "build_app", "read_aws_fleet", "settings_to_env"]

#: The environment variable ``spoolwatch serve --workers N`` hands its settings over in.
SETTINGS_ENV = "SPOOLWATCH_SERVE_SETTINGS"

#: Bound on each AWS call made while a request waits.
AWS_TIMEOUT_SECONDS = 3.0


def read_aws_fleet(settings: ServerSettings, clients: dict[str, Any]) -> dict[str, Any]:
    """The fleet named by ``settings`` read from SQS and DynamoDB (``FleetStatus.as_dict()``).

    ``clients`` keeps the boto3 clients between readings; they are created on first use.
    """
    for service in ("sqs", "dynamodb"):
        if service not in clients:
            clients[service] = client(service, timeout_seconds=AWS_TIMEOUT_SECONDS)
    status = read_fleet_status(
        data_queue_url=settings.fleet_data_queue_url or "",
        agent_queue_url=settings.fleet_agent_queue_url or "",
        table=settings.fleet_table or "",
        settings=ScalingSettings.from_env(target_concurrency=settings.fleet_target_concurrency),
        sqs=clients["sqs"],
        dynamodb=clients["dynamodb"],
    )
    return status.as_dict()


def build_app(
    store: Store | str | None = None, *, settings: ServerSettings | None = None
) -> FastAPI:
    """:func:`~spoolwatch.server.app.create_app`, reading the serverless fleet from AWS when
    ``settings`` name one."""
    settings = settings or ServerSettings()
    fleet_read = read_aws_fleet if settings.fleet_configured else None
    return create_app(store, settings=settings, fleet_read=fleet_read)


def settings_to_env(settings: ServerSettings) -> str:
    """``settings`` as the JSON text :func:`app_from_environment` reads."""
    return json.dumps(dataclasses.asdict(settings))


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``spoolwatch serve --workers N`` (a uvicorn factory).

    The settings come from :data:`SETTINGS_ENV`; the store was migrated by the parent, so
    workers starting together never race to migrate it.
    """
    settings = ServerSettings(**json.loads(os.environ[SETTINGS_ENV]))
    app = build_app(open_store(settings.db_url, migrate_schema=False), settings=settings)
    tune_gc()  # the worker process is the service's own
    return app
