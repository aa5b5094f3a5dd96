"""``spoolwatch tokens create|list|revoke``: API tokens, directly on the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from spoolwatch.cli.output import console, fail, print_json_line
from spoolwatch.errors import ConfigError, SpoolwatchError

if TYPE_CHECKING:
    from spoolwatch.store.base import Store

app = typer.Typer(
    help="API tokens for the monitoring service (stored hashed).", no_args_is_help=True
)

DB_OPTION = typer.Option(
    None,
    "--db",
    envvar="SPOOLWATCH_DB",
    help="Database URL (default sqlite:///./spoolwatch-data/spoolwatch.db).",
)


def open_db(db: str | None) -> Store:
    """The migrated store at ``db``, or exit 2 with the reason."""
    try:
        from spoolwatch.store.base import open_store

        return open_store(db)
    except ImportError as exc:
        fail(f"the store needs its extra: pip install 'spoolwatch[server]' ({exc.name})")
    except SpoolwatchError as exc:
        fail(str(exc))


def _time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="What the token is for (e.g. agent-prod)."),
    scope: str = typer.Option(
        "ingest",
        "--scope",
        help="ingest (agents: send records, heartbeats), read (queries, dashboard, metrics) "
        "or admin (everything, including creating and deleting deployments).",
    ),
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a token and print it once; only its hash is stored."""
    from spoolwatch.store.tokens import create_token, parse_scope

    try:
        chosen = parse_scope(scope)
    except ConfigError as exc:
        fail(str(exc))
    store = open_db(db)
    try:
        info, token = create_token(store, name, chosen)
    except ConfigError as exc:
        fail(str(exc))
    if as_json:
        print_json_line({"id": info.id, "name": info.name, "scope": info.scope, "token": token})
        return
    console.print(
        f"{info.scope} token for [bold]{info.name}[/] (id {info.id}); it is shown only now:"
    )
    console.print(token, soft_wrap=True)


@app.command("list")
def list_command(
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """List tokens (names and dates, never the tokens)."""
    from spoolwatch.store.tokens import list_tokens

    tokens = list_tokens(open_db(db))
    if as_json:
        for t in tokens:
            print_json_line(
                {
                    "id": t.id,
                    "name": t.name,
                    "scope": t.scope,
                    "createdAt": t.created_at,
                    "revokedAt": t.revoked_at,
                }
            )
        return
    table = Table("id", "name", "scope", "created", "revoked")
    for t in tokens:
        table.add_row(t.id, t.name, t.scope, _time(t.created_at), _time(t.revoked_at))
    console.print(table)


@app.command("revoke")
def revoke(
    token_id: str = typer.Argument(..., help="Token id or name."),
    db: str | None = DB_OPTION,
) -> None:
    """Revoke a token by id or name (the service notices within seconds)."""
    from spoolwatch.store.tokens import revoke_token

    count = revoke_token(open_db(db), token_id)
    if not count:
        fail(f"no active token with id or name {token_id!r}")
    console.print(f"revoked {count} token(s)")
