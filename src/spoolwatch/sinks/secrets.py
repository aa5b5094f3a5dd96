"""API tokens that never show up in logs, reprs or error messages."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from spoolwatch.errors import ConfigError

__all__ = ["Secret", "token_from_env", "token_from_file", "warn_if_readable_by_others"]

logger = logging.getLogger(__name__)


class Secret:
    """A secret: ``str()``, ``repr()`` and f-strings show ``****``; ``reveal()`` gives it."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, *, source: str = "") -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    @property
    def source(self) -> str:
        """Where the secret came from (``env:NAME``, ``file:PATH``, ``config:PATH``)."""
        return self._source

    def __repr__(self) -> str:
        return f"Secret('****', source={self._source!r})"

    def __str__(self) -> str:
        return "****"

    def __format__(self, spec: str) -> str:
        return "****"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def token_from_env(name: str, *, where: str) -> Secret:
    """Read a token from environment variable ``name``; ConfigError naming ``where`` if unset."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{where}: environment variable {name} is not set or empty")
    return Secret(value, source=f"env:{name}")


def token_from_file(path: str, *, where: str) -> Secret:
    """Read a token from a file (first line, stripped); ConfigError naming ``where``."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read token file {file}: {exc.strerror}") from None
    lines = text.strip().splitlines()
    if not lines or not lines[0].strip():
        raise ConfigError(f"{where}: token file {file} is empty")
    warn_if_readable_by_others(file)
    return Secret(lines[0].strip(), source=f"file:{file}")


def warn_if_readable_by_others(path: Path) -> None:
    """Log a warning when a file holding a token can be read by group or others."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        logger.warning(
            "%s holds an API token and is readable by other users; restrict it with chmod 600",
            path,
        )
