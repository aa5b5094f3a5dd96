"""``spoolwatch fleet status``: the serverless agents' backlog, leases, breaker and wake
trigger."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from spoolwatch.cli.output import console, fail, print_json_line
from spoolwatch.errors import ConfigError, MissingExtra, SpoolwatchError

app = typer.Typer(
    help="The serverless agents on AWS: backlog, leases, circuit breaker.", no_args_is_help=True
)


def _option(value: str | None, variable: str, flag: str) -> str:
    resolved = value or os.environ.get(variable, "").strip()
    if not resolved:
        fail(f"{flag} is required (or set {variable})")
    return resolved


def _ago(seconds: float) -> str:
    """``12 s ago``, ``3 min ago``, ``5 h ago``, ``2 d ago`` (a clock ahead counts as now)."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{round(seconds)} s ago"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} d ago"


def wake_line(wake: dict[str, Any], now: float) -> str:
    """``wake trigger: armed (fleet_idle, 3 min ago)``, from ``FleetStatus.wake``."""
    state = "armed" if wake["armed"] else "disarmed"
    if wake["changedAt"] is None:
        detail = "never switched since deployment"
    else:
        detail = _ago(now - wake["changedAt"])
        if wake["why"]:
            detail = f"{escape(wake['why'])}, {detail}"
    return f"wake trigger: [bold]{state}[/] ({detail})"


@app.command("status")
def status(
    data_queue: str | None = typer.Option(
        None, "--data-queue", help="Data queue URL [env: SPOOLWATCH_DATA_QUEUE_URL]."
    ),
    agent_queue: str | None = typer.Option(
        None, "--agent-queue", help="Agent queue URL [env: SPOOLWATCH_AGENT_QUEUE_URL]."
    ),
    table: str | None = typer.Option(
        None, "--table", help="State table [env: SPOOLWATCH_STATE_TABLE]."
    ),
    target: int | None = typer.Option(
        None,
        "--target-concurrency",
        min=1,
        help="Lease slots [env: SPOOLWATCH_TARGET_CONCURRENCY, default 10].",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON document."),
) -> None:
    """Backlog, leases held and by whom, breaker state, wake trigger and recent failures."""
    from spoolwatch.scaling import ScalingSettings

    data_url = _option(data_queue, "SPOOLWATCH_DATA_QUEUE_URL", "--data-queue")
    agent_url = _option(agent_queue, "SPOOLWATCH_AGENT_QUEUE_URL", "--agent-queue")
    table_name = _option(table, "SPOOLWATCH_STATE_TABLE", "--table")
    try:
        slots = target or int(os.environ.get("SPOOLWATCH_TARGET_CONCURRENCY", "10") or 10)
        settings = ScalingSettings.from_env(target_concurrency=slots)
        from spoolwatch.serverless.fleet import read_fleet_status

        snapshot = read_fleet_status(
            data_queue_url=data_url,
            agent_queue_url=agent_url,
            table=table_name,
            settings=settings,
        )
    except ValueError:
        fail("SPOOLWATCH_TARGET_CONCURRENCY must be an integer")
    except (ConfigError, MissingExtra) as exc:
        fail(str(exc))
    except SpoolwatchError as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json_line(snapshot.as_dict())
        return
    console.print(
        f"backlog: [bold]{snapshot.visible}[/] visible, {snapshot.in_flight} in flight; "
        f"{snapshot.pending_recruits} recruit(s) waiting"
    )
    breaker = snapshot.breaker
    colour = {"closed": "green", "open": "red"}.get(breaker["state"], "yellow")
    line = f"breaker: [{colour}]{breaker['state']}[/]"
    if breaker["reopensIn"] is not None:
        line += f", re-opens to a probe in {breaker['reopensIn']} s"
    if breaker["reason"]:
        line += f" ({breaker['reason']})"
    console.print(line)
    console.print(wake_line(snapshot.wake, time.time()))
    leases = Table(
        "slot",
        "holder",
        "expires in (s)",
        title=(f"leases: {len(snapshot.leases)} of {snapshot.target_concurrency}"),
        box=None,
    )
    for lease in snapshot.leases:
        leases.add_row(str(lease["slot"]), lease["holder"], str(lease["expiresIn"]))
    console.print(leases)
    if snapshot.failures:
        failures = Table("when", "kind", "reason", title="recent failures", box=None)
        for failure in snapshot.failures:
            when = datetime.fromtimestamp(failure["at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
            failures.add_row(when, failure["kind"], failure["reason"])
        console.print(failures)
