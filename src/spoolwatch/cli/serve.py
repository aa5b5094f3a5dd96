"""``spoolwatch serve``: run the monitoring service (FastAPI + uvicorn)."""

from __future__ import annotations

import errno
import logging
import logging.config
import os
import socket
from enum import StrEnum
from typing import Any

import typer

from spoolwatch.cli.output import console, fail
from spoolwatch.errors import ConfigError, SpoolwatchError
from spoolwatch.runtime import tune_gc
from spoolwatch.server.settings import ServerSettings, is_loopback

logger = logging.getLogger(__name__)


class LogFormat(StrEnum):
    """How the service writes its log lines."""

    text = "text"
    json = "json"


def serve(
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="SPOOLWATCH_DB",
        help="Database URL: sqlite:///path.db (default ./spoolwatch-data/spoolwatch.db) or "
        "postgresql://user@host/db.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    no_auth: bool = typer.Option(
        False, "--no-auth", help="Accept calls without a token (loopback addresses only)."
    ),
    webhook_url: str | None = typer.Option(
        None,
        "--webhook-url",
        envvar="SPOOLWATCH_WEBHOOK_URL",
        help="POST a JSON alert here when a deployment turns yellow or red.",
    ),
    max_body_bytes: int | None = typer.Option(
        None, "--max-body-bytes", help="Largest request body accepted (default 16 MiB)."
    ),
    fleet_data_queue: str | None = typer.Option(
        None,
        "--fleet-data-queue",
        envvar="SPOOLWATCH_DATA_QUEUE_URL",
        help="Serverless fleet: the SQS data queue URL (with --fleet-agent-queue and "
        "--fleet-table, the agents page shows the fleet).",
    ),
    fleet_agent_queue: str | None = typer.Option(
        None,
        "--fleet-agent-queue",
        envvar="SPOOLWATCH_AGENT_QUEUE_URL",
        help="Serverless fleet: the SQS agent queue URL.",
    ),
    fleet_table: str | None = typer.Option(
        None,
        "--fleet-table",
        envvar="SPOOLWATCH_STATE_TABLE",
        help="Serverless fleet: the DynamoDB state table.",
    ),
    fleet_target_concurrency: int | None = typer.Option(
        None,
        "--fleet-target-concurrency",
        envvar="SPOOLWATCH_TARGET_CONCURRENCY",
        min=1,
        help="Serverless fleet: lease slots (default 10).",
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="Service processes sharing the port (PostgreSQL only): each folds with its own "
        "group-commit writer; the per-deployment lock keeps totals exact.",
    ),
    shutdown_timeout: int = typer.Option(
        30,
        "--shutdown-timeout",
        min=0,
        help="On SIGTERM or Ctrl-C: stop accepting connections, finish the requests held "
        "for at most this many seconds, then commit what waits and exit.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    log_format: LogFormat = typer.Option(
        LogFormat.text,
        "--log-format",
        envvar="SPOOLWATCH_LOG_FORMAT",
        case_sensitive=False,
        help="text, or json: one JSON object per line on stderr (time, level, logger, "
        "message, exception) for the service, uvicorn and its access log, at --log-level.",
    ),
) -> None:
    """Run the monitoring service: DataRobot ingestion API, queries, dashboard, /metrics."""
    if no_auth and not is_loopback(host):
        fail(f"--no-auth is only allowed on a loopback address, not on {host}")
    _check_port(host, port)
    try:
        import uvicorn

        log_config = _log_config(log_format, log_level)
        if log_format is LogFormat.json:
            # Before the store opens: its migrations log as JSON too.
            logging.config.dictConfig(log_config)
        from spoolwatch.server.app import SETTINGS_ENV, create_app, settings_to_env

        settings = ServerSettings.from_env(
            db_url=db,
            auth=not no_auth,
            webhook_url=webhook_url,
            max_body_bytes=max_body_bytes,
            fleet_data_queue_url=fleet_data_queue,
            fleet_agent_queue_url=fleet_agent_queue,
            fleet_table=fleet_table,
            fleet_target_concurrency=fleet_target_concurrency,
        )
        if workers > 1:
            store_url = _check_workers(settings, workers)
        else:
            app = create_app(settings=settings)
            store_url = app.state.store.url
    except ImportError as exc:
        fail(f"the service needs its extra: pip install 'spoolwatch[server]' ({exc.name})")
    except (ConfigError, SpoolwatchError) as exc:
        fail(str(exc))
    _announce(log_format, host, port, store_url, settings, workers)
    if workers == 1:
        tune_gc()
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            log_config=log_config,
            timeout_graceful_shutdown=shutdown_timeout,
        )
        return
    # Worker processes build their own app from the settings passed in the environment.
    os.environ[SETTINGS_ENV] = settings_to_env(settings)
    uvicorn.run(
        "spoolwatch.server.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config,
        timeout_graceful_shutdown=shutdown_timeout,
    )


def _announce(
    log_format: LogFormat,
    host: str,
    port: int,
    store_url: str,
    settings: ServerSettings,
    workers: int,
) -> None:
    """Where the service listens: printed for people, or logged with ``json`` so that every
    line a log collector reads is JSON."""
    if log_format is LogFormat.json:
        logger.info("spoolwatch service on http://%s:%d (store: %s)", host, port, store_url)
        if settings.fleet_configured:
            logger.info("serverless fleet: table %s", settings.fleet_table)
        if not settings.auth:
            logger.warning("authentication is off (--no-auth)")
        if workers > 1:
            logger.info("%d service processes", workers)
        return
    console.print(f"spoolwatch service on http://{host}:{port}  (store: {store_url})")
    console.print(f"API docs: http://{host}:{port}/docs   dashboard: http://{host}:{port}/")
    if settings.fleet_configured:
        console.print(f"serverless fleet: table {settings.fleet_table} (agents page)")
    if not settings.auth:
        console.print("[yellow]authentication is off (--no-auth)[/]")
    if workers > 1:
        console.print(f"{workers} service processes")


def _check_port(host: str, port: int) -> None:
    """Fail with one line, before anything is opened or printed, when ``host:port`` cannot be
    listened on (uvicorn would print its banner's lines and a traceback first)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        # As uvicorn binds: a port left in TIME_WAIT by a stopped service is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"port {port} on {host} is already in use (another service?); stop it or "
                    "choose another port with --port"
                )
            fail(f"cannot listen on {host}:{port}: {exc.strerror}")


def _log_config(log_format: LogFormat, log_level: str) -> dict[str, Any]:
    """uvicorn's logging, with the service's own warnings in its format (``WARNING:  ...``);
    with ``json``, one formatter for every logger, access log included, all on stderr."""
    import copy

    import uvicorn.config

    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["spoolwatch"] = {
        "handlers": ["default"],
        "level": "WARNING",
        "propagate": False,
    }
    if log_format is LogFormat.json:
        config["formatters"] = {"json": {"()": "spoolwatch.logs.JsonFormatter"}}
        for handler in config["handlers"].values():
            handler["formatter"] = "json"
            handler["stream"] = "ext://sys.stderr"
        # A log pipeline wants the service's info lines too (start, migrations, readiness).
        level = uvicorn.config.LOG_LEVELS.get(log_level.lower(), logging.INFO)
        config["loggers"]["spoolwatch"]["level"] = max(level, logging.DEBUG)
    return config


def _check_workers(settings: ServerSettings, workers: int) -> str:
    """Migrate the store once, before the workers open it; refuse SQLite."""
    from spoolwatch.store.base import open_store
    from spoolwatch.store.engine import normalise_url

    if not normalise_url(settings.db_url).startswith("postgresql"):
        raise ConfigError(
            f"--workers {workers} needs PostgreSQL (--db postgresql://...): SQLite has one "
            "writer at a time, which one process with group commit already keeps busy"
        )
    store = open_store(settings.db_url)
    try:
        return store.url
    finally:
        store.close()
