"""``spoolwatch serve``: run the monitoring service (FastAPI + uvicorn)."""

from __future__ import annotations

import errno
import inspect
import logging
import logging.config
import os
import socket
from collections.abc import Callable
from functools import partial
from typing import Any

import typer

from spoolwatch.cli.help import HelpCommand
from spoolwatch.cli.output import console, fail
from spoolwatch.errors import ConfigError, SpoolwatchError
from spoolwatch.logs import LogFormat
from spoolwatch.runtime import tune_gc
from spoolwatch.server.setting import Setting, SettingError
from spoolwatch.server.settings import ServerSettings, is_loopback
from spoolwatch.server.settings_table import SERVE_SETTINGS, SERVICE_SETTINGS, setting

logger = logging.getLogger(__name__)


class ServeCommand(HelpCommand):
    """``spoolwatch serve``: a bad setting, from its flag or its variable, is one line naming
    both (``error: SPOOLWATCH_ACCURACY_RED=abc (--accuracy-red): must be a number``) and exit
    code 2, before anything starts."""

    # ``ctx``: typer types it as its vendored click's Context, a class it does not export.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """The options parsed, each value by its :class:`Setting` (see the class docstring)."""
        try:
            return super().parse_args(ctx, args)
        except SettingError as exc:
            source = ctx.get_parameter_source(exc.setting.name)
            from_env = source is not None and source.name == "ENVIRONMENT"
            fail(str(exc.came_from("env") if from_env else exc))


def _option(entry: Setting) -> Any:
    """The typer option of a setting: its flags and variable, its value parsed and checked by
    the setting (typer hands a switch's parser its variable's text only)."""
    return typer.Option(
        entry.default,
        entry.flags,
        envvar=entry.env,
        help=entry.help if entry.choices else entry.full_help,  # the metavar lists choices
        parser=partial(entry.parse, source="flag"),
        metavar=f"[{'|'.join(entry.choices)}]" if entry.choices else None,
        rich_help_panel=entry.panel,
    )


def _with_settings(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with one keyword option per row of the settings table (typer reads the
    options from the signature), so that no setting is declared twice."""
    parameters = [
        inspect.Parameter(
            entry.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=_option(entry),
            annotation=entry.kind | None if entry.optional else entry.kind,
        )
        for entry in SERVE_SETTINGS
    ]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


@_with_settings
def serve(**values: Any) -> None:
    """Run the monitoring service: DataRobot ingestion API, queries, dashboard, /metrics.

    Every setting is a flag and a SPOOLWATCH_* variable (shown with each); the flag wins.
    """
    host: str = values["host"]
    port: int = values["port"]
    workers: int = values["workers"]
    log_level: str = values["log_level"]
    log_format = LogFormat(values["log_format"])
    try:
        settings = ServerSettings(**{entry.name: values[entry.name] for entry in SERVICE_SETTINGS})
    except ConfigError as exc:
        fail(str(exc))
    if not settings.auth and not is_loopback(host):
        fail(
            f"--no-auth ({setting('auth').env}=false) is only allowed on a loopback address, "
            f"not on {host} (--host, {setting('host').env})"
        )
    _check_port(host, port)
    try:
        import uvicorn

        log_config = _log_config(log_format, log_level)
        if log_format is LogFormat.json:
            # Before the store opens: its migrations log as JSON too.
            logging.config.dictConfig(log_config)
        from spoolwatch.service_app import SETTINGS_ENV, build_app, settings_to_env

        if workers > 1:
            store_url = _check_workers(settings, workers)
        else:
            app = build_app(settings=settings)
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
            timeout_graceful_shutdown=values["shutdown_timeout"],
        )
        return
    # Worker processes build their own app from the settings passed in the environment.
    os.environ[SETTINGS_ENV] = settings_to_env(settings)
    uvicorn.run(
        "spoolwatch.service_app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config,
        timeout_graceful_shutdown=values["shutdown_timeout"],
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
