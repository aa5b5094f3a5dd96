"""``spoolwatch serve``: run the monitoring service (FastAPI + uvicorn)."""

from __future__ import annotations

import logging

import typer

from spoolwatch.cli.output import console, fail
from spoolwatch.errors import ConfigError, SpoolwatchError
from spoolwatch.server.settings import ServerSettings, is_loopback

logger = logging.getLogger(__name__)


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
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Run the monitoring service: DataRobot ingestion API, queries, dashboard, /metrics."""
    if no_auth and not is_loopback(host):
        fail(f"--no-auth is only allowed on a loopback address, not on {host}")
    try:
        import uvicorn

        from spoolwatch.server.app import create_app

        settings = ServerSettings.from_env(
            db_url=db, auth=not no_auth, webhook_url=webhook_url, max_body_bytes=max_body_bytes
        )
        app = create_app(settings=settings)
    except ImportError as exc:
        fail(f"the service needs its extra: pip install 'spoolwatch[server]' ({exc.name})")
    except (ConfigError, SpoolwatchError) as exc:
        fail(str(exc))
    store_url = app.state.store.url
    console.print(f"spoolwatch service on http://{host}:{port}  (store: {store_url})")
    console.print(f"API docs: http://{host}:{port}/docs   dashboard: http://{host}:{port}/")
    if no_auth:
        console.print("[yellow]authentication is off (--no-auth)[/]")
    uvicorn.run(app, host=host, port=port, log_level=log_level)
