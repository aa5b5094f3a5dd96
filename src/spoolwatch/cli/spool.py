"""``spoolwatch spool ...``: look into spools."""

from __future__ import annotations

import typer

app = typer.Typer(help="Look into spools: filesystem directories, SQS and RabbitMQ queues.",
                  no_args_is_help=True)
