"""``spoolwatch tokens create|list|revoke``: API tokens, through a service or on its database
(see :mod:`spoolwatch.cli.admin`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from spoolwatch.cli.admin import (
    DB_OPTION,
    SERVER_OPTION,
    TOKEN_OPTION,
    fail_with,
    need_store,
    open_db,
    service_client,
)
from spoolwatch.cli.output import console, fail, print_json_line
from spoolwatch.errors import SpoolwatchError

__all__ = ["app"]

app = typer.Typer(
    help="API tokens for the monitoring service (stored hashed). Through a service with "
    "--server URL (or SPOOLWATCH_URL) and an admin token, else on the database directly.",
    no_args_is_help=True,
)


def _time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _created(
    ctx: typer.Context, server: str | None, token: str | None, db: str | None, name: str, scope: str
) -> dict[str, Any]:
    client = service_client(ctx, server, token)
    try:
        if client is not None:
            with client:  # the service checks the scope and the name
                body = client.call(
                    "POST", "spoolwatch/tokens/", json={"name": name, "scope": scope}
                )
            return dict(body)
        need_store()
        from spoolwatch.store.tokens import create_token, parse_scope

        chosen = parse_scope(scope)  # before the database is opened (or created)
        info, made = create_token(open_db(ctx, db), name, chosen)
    except SpoolwatchError as exc:
        fail_with(exc)
    return {"id": info.id, "name": info.name, "scope": info.scope, "token": made}


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="What the token is for (e.g. agent-prod)."),
    scope: str = typer.Option(
        "ingest",
        "--scope",
        help="ingest (agents: send records, heartbeats), read (queries, dashboard, metrics) "
        "or admin (everything, including tokens and deployments).",
    ),
    server: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a token and print it once; only its hash is stored."""
    made = _created(ctx, server, token, db, name, scope)
    if as_json:
        print_json_line({key: made[key] for key in ("id", "name", "scope", "token")})
        return
    console.print(
        f"{made['scope']} token for [bold]{made['name']}[/] (id {made['id']}); "
        "it is shown only now:"
    )
    console.print(made["token"], soft_wrap=True, markup=False)


def _listed(
    ctx: typer.Context, server: str | None, token: str | None, db: str | None
) -> list[dict[str, Any]]:
    client = service_client(ctx, server, token)
    try:
        if client is not None:
            with client:
                return list(client.call("GET", "spoolwatch/tokens/")["data"])
        need_store()
        from spoolwatch.store.tokens import list_tokens

        return [
            {
                "id": t.id,
                "name": t.name,
                "scope": t.scope,
                "createdAt": t.created_at,
                "revokedAt": t.revoked_at,
            }
            for t in list_tokens(open_db(ctx, db))
        ]
    except SpoolwatchError as exc:
        fail_with(exc)


@app.command("list")
def list_command(
    ctx: typer.Context,
    server: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """List tokens (names, scopes and dates, never the tokens)."""
    tokens = _listed(ctx, server, token, db)
    if as_json:
        for t in tokens:
            print_json_line(t)
        return
    table = Table("id", "name", "scope", "created", "revoked")
    for t in tokens:
        table.add_row(t["id"], t["name"], t["scope"], _time(t["createdAt"]), _time(t["revokedAt"]))
    console.print(table)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: str = typer.Argument(..., help="Token id or name."),
    server: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Revoke a token by id or name (the service notices within seconds)."""
    from urllib.parse import quote

    client = service_client(ctx, server, token)
    try:
        if client is not None:
            with client:
                count = int(
                    client.call("DELETE", f"spoolwatch/tokens/{quote(token_id, safe='')}/")[
                        "revoked"
                    ]
                )
        else:
            need_store()
            from spoolwatch.store.tokens import revoke_token

            count = revoke_token(open_db(ctx, db), token_id)
    except SpoolwatchError as exc:
        fail_with(exc)
    if not count:
        fail(f"no active token with id or name {token_id!r}")
    console.print(f"revoked {count} token(s)")
