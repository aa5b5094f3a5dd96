"""The CLI's output layer: every command prints through these, never with bare ``print``."""

from __future__ import annotations

import sys
from typing import NoReturn

import orjson
import typer
from rich.console import Console

__all__ = ["console", "err_console", "fail", "print_json_line"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json_line(obj: object) -> None:
    """One JSON object on one line of stdout (for ``--json`` output)."""
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code`` (2: bad input)."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)
