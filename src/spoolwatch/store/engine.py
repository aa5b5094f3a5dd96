"""Engine creation: SQLite (WAL) by default, PostgreSQL through psycopg 3."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from spoolwatch.errors import ConfigError

__all__ = ["DEFAULT_DB_PATH", "DEFAULT_DB_URL", "create_engine", "normalise_url", "sqlite_file"]

logger = logging.getLogger(__name__)

#: The embedded default: a SQLite file under the current directory.
DEFAULT_DB_PATH = Path("spoolwatch-data") / "spoolwatch.db"
DEFAULT_DB_URL = f"sqlite:///./{DEFAULT_DB_PATH.as_posix()}"


def normalise_url(url: str | None) -> str:
    """The SQLAlchemy URL for a user's ``--db`` value (a plain path means a SQLite file)."""
    if not url:
        return DEFAULT_DB_URL
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{url}"
    return url


def create_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and their directory is created."""
    text = normalise_url(url)
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise ConfigError(f"--db: not a database URL: {_redact(text)}") from exc
    except ValueError as exc:  # SQLAlchemy's own message would show the password
        raise ConfigError("--db: not a database URL: its port is not a number") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(text, parsed.database, **kwargs)
    if backend == "postgresql":
        # Folds into one deployment queue on an advisory lock while holding a connection, so
        # the pool allows as many connections as the service has worker threads.
        options = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 30, **kwargs}
        return sa_create_engine(text, **options)
    raise ConfigError(f"--db: unsupported database {backend!r}; use sqlite:/// or postgresql://")


def _sqlite_engine(text: str, database: str | None, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa_create_engine(text, connect_args={"check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN is switched off: write transactions start with
        # BEGIN IMMEDIATE (see Store.write) so two writers never deadlock on a lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Inserts of association ids land all over the key index: a page cache larger than
        # the 2 MiB default keeps them from being read back and written out per commit.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()

    return engine


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


def sqlite_file(url: str | None) -> Path | None:
    """The absolute path of the SQLite file a user's ``--db`` value names, ``None`` for
    other databases (and for SQLite in memory)."""
    text = normalise_url(url)
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in {None, "", ":memory:"}:
        return None
    return Path(str(parsed.database)).resolve()
