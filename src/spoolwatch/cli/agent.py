"""``spoolwatch agent ...``: run the agent, print an example configuration."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import orjson
import typer

from spoolwatch.cli.output import console, err_console, fail
from spoolwatch.logs import LogFormat
from spoolwatch.runtime import tune_gc

logger = logging.getLogger(__name__)

app = typer.Typer(
    help="Drain spools into the monitoring service (or DataRobot).", no_args_is_help=True
)
config_app = typer.Typer(help="Agent configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")

EXIT_HELP = (
    "Exit codes: 0 done; 1 stopped with records left un-acked because the destination kept "
    "failing; 2 bad configuration or arguments, or the destination refused the API token "
    "(checked at start, and on every send: the records stay in the spool); 130 stopped by "
    "SIGINT/SIGTERM. "
    "On SIGTERM/SIGINT the agent stops reading, finishes the batch in hand (retrying for at "
    "most retry.shutdown_grace_seconds), acks, closes; a second signal gives up on the batch "
    "in hand at once (it stays un-acked in the spool)."
)


def run(
    config: Path = typer.Option(
        ...,
        "--config",
        "-c",
        help="Our agent YAML or DataRobot's mlops.agent.conf.yaml.",
        dir_okay=False,
    ),
    until_empty: bool = typer.Option(
        False, "--until-empty", help="Stop when every channel is drained."
    ),
    max_seconds: float | None = typer.Option(
        None,
        "--max-seconds",
        min=0.0,
        help="Stop reading after N seconds, finish and ack what is in hand, exit.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Decode and convert, send nothing, ack nothing."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING, ERROR."),
    log_format: LogFormat = typer.Option(
        LogFormat.text,
        "--log-format",
        envvar="SPOOLWATCH_LOG_FORMAT",
        case_sensitive=False,
        help="text, or json: one JSON object per line on stderr (time, level, logger, "
        "message, request_id of a failed request), with no live table and no summary "
        "(the last log line is the summary).",
    ),
) -> None:
    """Run the agent. Exit codes: 0 done, 1 records left un-acked, 2 bad config or refused
    token, 130 signal."""
    from dataclasses import replace

    from spoolwatch.agent.config_file import load_config
    from spoolwatch.agent.loop import Agent
    from spoolwatch.errors import ConfigError, MissingExtra

    json_logs = log_format is LogFormat.json
    # A live table would interleave with the lines a log collector parses.
    live_display = console.is_terminal and not json_output and not json_logs
    _setup_logging(log_level, live_display, json_logs)
    try:
        agent_config = load_config(config)
        if dry_run:
            agent_config = replace(agent_config, dry_run=True)
        live = _LiveView() if live_display else None
        agent = Agent(agent_config, on_stats=live.update if live else None)
    except (ConfigError, MissingExtra) as exc:
        _fail(str(exc), json_logs)
    previous = _install_signal_handlers(agent)
    tune_gc()
    try:
        if live is not None:
            with live:
                result = agent.run(until_empty=until_empty, max_seconds=max_seconds)
        else:
            result = agent.run(until_empty=until_empty, max_seconds=max_seconds)
    finally:
        agent.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if json_output:
        sys.stdout.write(
            orjson.dumps(result.as_dict(), option=orjson.OPT_NON_STR_KEYS).decode() + "\n"
        )
    elif not json_logs:
        _print_summary(result)
    if json_logs:  # the agent has logged its errors and its summary already
        raise typer.Exit(result.exit_code)
    from rich.markup import escape

    if result.error:
        err_console.print(f"[bold red]error:[/] {escape(result.error)}", soft_wrap=True)
    for name, message in result.channel_errors.items():
        err_console.print(f"[bold red]error:[/] channel {name}: {escape(message)}", soft_wrap=True)
    raise typer.Exit(result.exit_code)


app.command("run", help=f"Run the agent: read spools, send, ack. {EXIT_HELP}")(run)


def run_alone() -> None:
    """``python -m spoolwatch.agent``: the run command on its own."""
    alone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    alone.command(help=f"Run the spoolwatch agent. {EXIT_HELP}")(run)
    alone(prog_name="python -m spoolwatch.agent")


@config_app.command("example")
def config_example() -> None:
    """Print a commented example configuration (our format)."""
    from spoolwatch.agent.config_file import EXAMPLE_CONFIG

    sys.stdout.write(EXAMPLE_CONFIG)


def _setup_logging(level: str, live_display: bool, json_logs: bool = False) -> None:
    """The ``spoolwatch`` loggers at ``level``: through the live display, as text lines, or
    as JSON lines (:class:`~spoolwatch.logs.JsonFormatter`) on stderr."""
    numeric = logging.getLevelName(level.upper())
    handler: logging.Handler
    if json_logs:
        from spoolwatch.logs import JsonFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif live_display:
        from rich.logging import RichHandler

        # Through the live display's console, so log lines print above the table.
        handler = RichHandler(console=console, show_path=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("spoolwatch")
    root.handlers[:] = [handler]
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    root.propagate = False
    if not isinstance(numeric, int):
        _fail(f"--log-level: unknown level {level!r}; use DEBUG, INFO, WARNING or ERROR", json_logs)


def _fail(message: str, json_logs: bool) -> NoReturn:
    """Exit 2 with ``message``: a JSON log line with ``json_logs``, else ``error: ...``."""
    if json_logs:
        logger.error("%s", message)
        raise typer.Exit(2)
    fail(message)


def _install_signal_handlers(agent: Any) -> dict[int, Any]:
    """SIGTERM/SIGINT → ``agent.stop()``; returns the handlers they replaced."""

    def handle(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("spoolwatch.agent").warning(
            "%s received: stopping (send it again to give up on the batch in hand)",
            signal.Signals(signum).name,
        )
        agent.stop("signal")

    previous: dict[int, Any] = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, handle)
    return previous


def _print_summary(result: Any) -> None:
    console.print(
        f"[bold]agent stopped[/] ({result.stopped_by}) after {result.elapsed:.1f} s: "
        f"{result.records_sent} records sent ({result.rows_sent} rows, "
        f"{result.requests} requests), {result.quarantined} quarantined, "
        f"{result.skipped} skipped, {result.duplicates} duplicates, {result.retries} retries, "
        f"{result.unacked} left un-acked",
        soft_wrap=True,
    )
    if result.failed_because and not (result.error or result.channel_errors):
        # Otherwise the errors printed after the summary say it, with what to check.
        console.print(
            f"destination failing: {result.failed_because} ({result.last_error})", soft_wrap=True
        )


class _LiveView:
    """A live table of channel counters when stdout is a terminal."""

    def __init__(self) -> None:
        from rich.live import Live

        self._live = Live(console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> _LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def update(self, snapshot: Any) -> None:
        from rich.table import Table

        table = Table(
            title=f"spoolwatch agent — {snapshot.records_per_second:,.0f} records/s, "
            f"{snapshot.rows_per_second:,.0f} rows/s"
        )
        for column in (
            "channel",
            "sent",
            "rows",
            "backlog",
            "quarantined",
            "skipped",
            "duplicates",
            "retries",
            "last error",
        ):
            table.add_column(
                column, justify="left" if column in {"channel", "last error"} else "right"
            )
        for name, c in snapshot.channels.items():
            table.add_row(
                name,
                f"{c['sent']:,}",
                f"{c['rows']:,}",
                "?" if c["backlog"] is None else f"{c['backlog']:,}",
                str(c["quarantined"]),
                str(c["skipped"]),
                str(c["duplicates"]),
                str(c["retries"]),
                (c["last_error"] or "")[:60],
            )
        self._live.update(table)
