"""``spoolwatch simulate``: compare scaling policies in the discrete-event simulator."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.table import Table

from spoolwatch.cli.output import console, fail, print_json_line
from spoolwatch.errors import ConfigError, MissingExtra

HELP = (
    "Run scaling policies through a scenario in a discrete-event simulation (modelled SQS, "
    "Lambda, DynamoDB and their prices) and print, per policy: time to drain, record age "
    "p50/p95/p99, peak agents, agent-seconds, cost in dollars, duplicate deliveries, records "
    "lost and over-recruitment. The same seed gives the same figures. Policies: spoolwatch, "
    "recipe, lambda-esm, keda, static, or all. Scenarios: burst-1m, diurnal, spiky, outage. "
    "The agents run on the real stream's measured figures (--params easy: the easy path's) "
    "against a destination with no capacity limit, or one of --destination's presets."
)


def simulate(
    policy: str = typer.Option("all", "--policy", "-p", help="A policy name, or all."),
    scenario: str = typer.Option(..., "--scenario", "-s", help="burst-1m|diurnal|spiky|outage"),
    seed: int = typer.Option(0, "--seed", help="Random seed (an integer >= 0)."),
    concurrency: int = typer.Option(
        10, "--concurrency", help="Most agents at once, the same cap for every policy."
    ),
    parameters: str = typer.Option(
        "measured",
        "--params",
        help="The agent's figures: measured (the real-stream benchmark's) or easy.",
    ),
    destination: str = typer.Option(
        "unlimited",
        "--destination",
        help="What the destination accepts: unlimited, sqlite, postgresql-1, postgresql-2.",
    ),
    agent_throughput: float | None = typer.Option(
        None,
        "--agent-throughput",
        help="Records/s of one agent's own work (default: from --params, see the docs).",
    ),
    schedule: float = typer.Option(
        300.0, "--schedule", help="Seconds between spoolwatch's scheduled invocations."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Draw backlog and agents over time into this PNG."
    ),
) -> None:
    """Compare scaling policies in the simulator."""
    try:
        from spoolwatch.sim.policies import POLICIES
        from spoolwatch.sim.report import COST_COLUMNS, HEADERS, TIME_COLUMNS, document, rows
        from spoolwatch.sim.run import simulate as run_one
        from spoolwatch.sim.scenarios import SCENARIOS
        from spoolwatch.sim.world import params_named
    except ImportError as exc:  # simpy is in the [sim] extra
        fail(str(MissingExtra(exc.name or "simpy", "sim")))
    if policy != "all" and policy not in POLICIES:
        fail(f"--policy: unknown policy {policy!r}; choose from all, {', '.join(POLICIES)}")
    if scenario not in SCENARIOS:
        fail(f"--scenario: unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    if seed < 0:
        fail(f"--seed must be an integer >= 0, got {seed}")
    if not 1 <= concurrency <= 1000:
        fail(f"--concurrency must be between 1 and 1000, got {concurrency}")
    if plot is not None and (plot.suffix.lower() != ".png" or not plot.parent.is_dir()):
        fail(f"--plot: {plot} must be a .png file in an existing folder")
    if agent_throughput is not None and not agent_throughput > 0:
        fail(f"--agent-throughput must be a number > 0, got {agent_throughput}")
    if not 60 <= schedule <= 86_400:
        fail(f"--schedule must be between 60 and 86400 seconds (EventBridge rates), got {schedule}")
    try:
        params = params_named(
            parameters, destination=destination, concurrency=concurrency, schedule_seconds=schedule
        )
    except ConfigError as exc:
        fail(f"--params/--destination: {exc}")
    if agent_throughput is not None:
        params = dataclasses.replace(params, agent_throughput=agent_throughput)
    names = list(POLICIES) if policy == "all" else [policy]
    try:
        results = [run_one(name, scenario, seed=seed, params=params) for name in names]
    except ConfigError as exc:
        fail(str(exc))
    if plot is not None:
        from spoolwatch.sim.plot import plot_results

        try:
            title = f"{scenario} (seed {seed}, concurrency {concurrency})"
            plot_results(results, plot, title=title)
        except (ConfigError, MissingExtra) as exc:
            fail(str(exc))
    if as_json:
        print_json_line(document(results, scenario=scenario, seed=seed, params=params))
        return
    body = rows(results)
    titles = (f"{scenario}: {SCENARIOS[scenario].summary}", "cost and delivery")
    for title, columns in zip(titles, (TIME_COLUMNS, COST_COLUMNS), strict=True):
        table = Table(*(HEADERS[i] for i in columns), title=title, box=None)
        for row in body:
            table.add_row(*(row[i] for i in columns))
        console.print(table)
    if plot is not None:
        console.print(f"plot written to {plot}")


simulate.__doc__ = HELP
