"""Where the admin commands (``tokens``, ``deployments``) act: a running service or a database.

With ``--server URL`` (or ``SPOOLWATCH_URL``) they call the service's REST API with an
``admin`` token (``--token`` or ``SPOOLWATCH_API_TOKEN``). Without, they open the database
(``--db``, ``SPOOLWATCH_DB``, default ``./spoolwatch-data/spoolwatch.db``) directly, which is
how the first token is made, and say on stderr which database that was, every time, so that
a command run from another folder cannot silently use (or create) another database.
An option given on the command line wins over the other's environment variable; ``--server``
and ``--db`` given together are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

from spoolwatch.cli.output import err_console, fail
from spoolwatch.cli.service_client import ServiceClient
from spoolwatch.errors import SpoolwatchError, TransientError

if TYPE_CHECKING:
    from spoolwatch.store.base import Store

__all__ = [
    "DB_OPTION",
    "SERVER_OPTION",
    "TOKEN_OPTION",
    "fail_with",
    "need_store",
    "open_db",
    "service_client",
]

DB_OPTION = typer.Option(
    None,
    "--db",
    envvar="SPOOLWATCH_DB",
    help="Work on this database directly, without a service (default "
    "sqlite:///./spoolwatch-data/spoolwatch.db); for the first token.",
)
SERVER_OPTION = typer.Option(
    None,
    "--server",
    envvar="SPOOLWATCH_URL",
    help="Work through the service at this URL (e.g. http://127.0.0.1:8080) with an admin token.",
)
TOKEN_OPTION = typer.Option(
    None,
    "--token",
    envvar="SPOOLWATCH_API_TOKEN",
    help="Admin token for --server (default: SPOOLWATCH_API_TOKEN).",
)


def fail_with(exc: SpoolwatchError, message: str | None = None) -> NoReturn:
    """Print the error's one line (or ``message``) and exit: 1 when the service is
    unreachable or failing (try again later), 2 when the call must be fixed."""
    fail(message or str(exc), 1 if isinstance(exc, TransientError) else 2)


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option was given on the command line (not by its environment variable)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def service_client(
    ctx: typer.Context, server: str | None, token: str | None
) -> ServiceClient | None:
    """The client of the service the command works through, or ``None`` to work on the
    database; refuses ``--server`` with ``--db`` and ``--token`` without a server."""
    if server and _given(ctx, "db"):
        if _given(ctx, "server"):
            fail("--server and --db: give one (the service, or its database directly)")
        server = None  # an explicit --db wins over SPOOLWATCH_URL
    if not server:
        if token and _given(ctx, "token"):
            fail("--token: only with --server URL (on the database directly, none is needed)")
        return None
    try:
        return ServiceClient(server, token)
    except SpoolwatchError as exc:
        fail_with(exc)


def need_store() -> None:
    """Exit 2 with the install hint unless the store's dependencies are installed (through a
    service, the admin commands need none of them)."""
    import importlib.util

    if importlib.util.find_spec("sqlalchemy") is None:
        fail(
            "working on the database directly needs the store: pip install "
            "'spoolwatch[server]' (or work through a service with --server URL)"
        )


def open_db(ctx: typer.Context, db: str | None) -> Store:
    """The migrated store at ``db``, announced on stderr and closed with ``ctx``; or exit 2
    with the reason."""
    need_store()
    try:
        from spoolwatch.store.base import open_store
        from spoolwatch.store.engine import sqlite_file

        path = sqlite_file(db)
        existed = path is None or path.exists()
        store = open_store(db)
    except ImportError as exc:
        fail(f"the store needs its extra: pip install 'spoolwatch[server]' ({exc.name})")
    except SpoolwatchError as exc:
        fail_with(exc)
    ctx.call_on_close(store.close)
    shown = f"sqlite:///{path}" if path is not None else store.url
    if existed:
        err_console.print(
            f"database: {shown} (directly; --server URL for a service)",
            soft_wrap=True,
            markup=False,
        )
    else:
        err_console.print(
            f"database: {shown} (new and empty: created now; --server URL for a service)",
            soft_wrap=True,
            markup=False,
        )
    return store
