"""``spoolwatch db migrate``: bring a database's schema up to this release, and nothing else.

For a migration step of its own (a Kubernetes init container or Job) before the service
starts; ``spoolwatch serve`` migrates at start too. On PostgreSQL the migrations run under an
advisory lock, so several of these at once are safe: one migrates, the others wait and find
nothing to do.
"""

from __future__ import annotations

import typer

from spoolwatch.cli.admin import fail_with, need_store
from spoolwatch.cli.output import console, fail, print_json_line
from spoolwatch.errors import SpoolwatchError

__all__ = ["app"]

app = typer.Typer(help="The service's database.", no_args_is_help=True)


@app.command("migrate")
def migrate(
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="SPOOLWATCH_DB",
        help="Database URL: sqlite:///path.db (default ./spoolwatch-data/spoolwatch.db) or "
        "postgresql://user@host/db.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Create or migrate the database, then print its schema version and exit."""
    need_store()
    try:
        from spoolwatch.store.base import open_store

        store = open_store(db, migrate_schema=False)
        try:
            version = store.migrate()
            url = store.url
        finally:
            store.close()
    except ImportError as exc:
        fail(f"the store needs its extra: pip install 'spoolwatch[server]' ({exc.name})")
    except SpoolwatchError as exc:
        fail_with(exc)
    if as_json:
        print_json_line({"database": url, "schema_version": version})
    else:
        console.print(f"database {url}: schema version {version}", soft_wrap=True, markup=False)
