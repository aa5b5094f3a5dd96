"""``spoolwatch demo``: the whole system on 127.0.0.1, then the dashboard until Ctrl-C."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from spoolwatch.cli.output import console, err_console, fail, print_json_line

if TYPE_CHECKING:  # the demo's dependencies load only when it runs
    from rich.console import Console

    from spoolwatch.demo.runner import Demo, DemoSummary

__all__ = ["demo"]

_STATUS_STYLE = {"green": "green", "yellow": "yellow", "red": "bold red", "unknown": "dim"}


def demo(
    exit_when_done: bool = typer.Option(
        False, "--exit", help="Stop when the work is done instead of serving the dashboard."
    ),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port on 127.0.0.1."),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        file_okay=False,
        help="Keep the database and spool in a new folder under DIR (default: a temporary "
        "folder, removed when the demo stops).",
    ),
    keep: bool = typer.Option(
        False, "--keep", help="Keep the temporary folder when the demo stops, and say where."
    ),
    rows: int = typer.Option(
        12_000, "--rows", min=200, help="Predictions the example model makes over the day."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the summary as one JSON object instead of tables."
    ),
) -> None:
    """Run the whole system on 127.0.0.1: service (SQLite), a model reporting a simulated day
    of traffic that drifts part-way into a filesystem spool, and an agent draining it."""
    try:
        from spoolwatch.demo.runner import Demo, DemoOptions
    except ImportError as exc:
        fail(f"the demo needs the service extra: pip install 'spoolwatch[server]' ({exc.name})")
    from spoolwatch.errors import ConfigError, SpoolwatchError

    # The agent and the service log at INFO; the demo tells its own story instead.
    logging.getLogger("spoolwatch").setLevel(logging.WARNING)
    try:
        options = DemoOptions(port=port, data_dir=data_dir, keep=keep, rows=rows)
        say = err_console if as_json else console
        runner = Demo(options, progress=lambda message: say.print(f"[dim]·[/] {message}"))
    except SpoolwatchError as exc:
        fail(str(exc))
    try:
        summary = runner.run()
        if as_json:
            print_json_line(summary.as_dict())
        else:
            _print_summary(summary)
    except KeyboardInterrupt:
        _stop(runner, say)
        raise typer.Exit(130) from None
    except ConfigError as exc:
        _stop(runner, say)
        fail(str(exc))
    except SpoolwatchError as exc:
        _stop(runner, say)
        fail(str(exc), code=1)
    if exit_when_done:
        _stop(runner, say)
        return
    # SIGTERM (a service manager, `kill`) stops the demo as gracefully as Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Inside the try: a Ctrl-C right after the line still stops the demo cleanly.
        say.print(f"\nDashboard: [bold]{summary.url}/[/]   (Ctrl-C to stop)")
        runner.serve_forever()
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        _stop(runner, say)
        signal.signal(signal.SIGTERM, previous)


def _stop(runner: Demo, say: Console) -> None:
    """Stop the demo and tell where its data is, or that its temporary folder is gone."""
    runner.stop()
    if runner.removes_data:
        say.print(f"[dim]·[/] removed the demo's temporary folder {runner.data_dir}")
    elif runner.data_dir.exists():
        say.print(f"Data kept in {runner.data_dir} (SQLite database spoolwatch.db, spool/)")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _status(value: str) -> str:
    return f"[{_STATUS_STYLE.get(value, 'dim')}]{value}[/]"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_last_day(summary: DemoSummary) -> None:
    health = summary.health
    if health:
        console.print(
            "Health over the last day: "
            + ", ".join(
                f"{name} {_status(health.get(name, {}).get('status', 'unknown'))}"
                for name in ("service", "model", "accuracy")
            )
        )
        console.print(f"  accuracy: {health.get('accuracy', {}).get('message', '-')}")
    target = summary.target_drift
    if target.get("driftScore") is not None:
        peak = target.get("peakDriftScore")
        worst = (
            f", up to {peak:.3f} in the {target['driftingHours']} hours that drifted"
            if peak is not None
            else ""
        )
        console.print(
            f"Target drift over the last day: {_status(target['status'])} · "
            f"PSI {target['driftScore']:.3f}{worst}"
        )


def _print_summary(summary: object) -> None:
    from spoolwatch.demo.runner import DemoSummary

    assert isinstance(summary, DemoSummary)
    t = summary.traffic
    console.print()
    records = Table(title="Records", show_header=True, header_style="bold")
    records.add_column("written to the spool", justify="right")
    records.add_column("sent by the agent", justify="right")
    records.add_column("received by the service", justify="right")
    records.add_column("quarantined", justify="right")
    records.add_row(
        str(summary.records_written),
        str(summary.records_sent),
        str(summary.records_received),
        str(summary.quarantined),
    )
    console.print(records)
    console.print(
        f"Traffic: {t.requests} requests ({t.failed_requests} failed), {t.predictions} "
        f"predictions, {t.actuals} actuals, {t.metric_values} custom-metric values, "
        f"{t.events} events"
    )
    drift = Table(title="Feature drift (PSI)", show_header=True, header_style="bold")
    drift.add_column("feature")
    drift.add_column("before drift")
    drift.add_column("after drift")
    drift.add_column("PSI after", justify="right")
    drift.add_column("shifted by the demo")
    for f in summary.features:
        score = "-" if f.score_after is None else f"{f.score_after:.3f}"
        drift.add_row(
            f.name, _status(f.before), _status(f.after), score, "yes" if f.drifted else ""
        )
    console.print(drift)
    console.print(
        f"Deployment drift status: {_status(summary.drift_status_before)} before, "
        f"{_status(summary.drift_status_after)} after"
    )
    console.print(
        f"Accuracy: {_percent(summary.accuracy_before)} before drift "
        f"({_status(summary.accuracy_status_before)}), {_percent(summary.accuracy_after)} after "
        f"({_status(summary.accuracy_status_after)}); reference "
        f"{_percent(summary.accuracy_reference)} (the first 500 predictions with actuals)"
    )
    _print_last_day(summary)
    s = summary.seconds
    console.print(
        f"Done in {s.get('total', 0):.1f} s (model {s.get('model', 0):.1f} s, "
        f"agent {s.get('agent', 0):.1f} s); data in {summary.data_dir}"
        + ("" if summary.data_kept else " (removed when the demo stops; --keep keeps it)")
    )
    console.print(f"Deployment: {summary.url}/deployments/{summary.deployment_id}")
