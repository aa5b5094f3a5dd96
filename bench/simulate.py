"""Scaling policies compared in the simulator: every scenario, every policy, one seed.

Prints, per scenario, the timing table and the cost-and-delivery table of
``spoolwatch simulate --policy all --scenario NAME`` (concurrency 10, the SAM template's
default ``TargetConcurrency``), the burst again at concurrency 100 and 1,000, the wall time
of each run, and the headline comparisons; then the burst against each destination with a
capacity (:mod:`spoolwatch.sim.destination`): every policy at concurrency 10 and 100, and
spoolwatch's drain time and cost against its agent cap. Agents run on the measured figures
(:mod:`spoolwatch.sim.measured`). Draws ``docs/img/simulator-<scenario>.png``.
Usage: ``python bench/simulate.py [--seed N] [--no-plots] [--only-destinations]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from spoolwatch.sim.destination import DESTINATIONS
from spoolwatch.sim.measured import measured
from spoolwatch.sim.policies import POLICIES
from spoolwatch.sim.report import COST_COLUMNS, TIME_COLUMNS, text_table
from spoolwatch.sim.run import SimResult, simulate
from spoolwatch.sim.scenarios import SCENARIOS
from spoolwatch.sim.world import SimParams, params_named

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img"


def _run(scenario: str, seed: int, concurrency: int, policies: list[str]) -> list[SimResult]:
    params = SimParams(concurrency=concurrency)
    return [simulate(name, scenario, seed=seed, params=params) for name in policies]


def _print(title: str, results: list[SimResult]) -> None:
    print(f"### {title}")
    print()
    print(text_table(results, TIME_COLUMNS))
    print()
    print(text_table(results, COST_COLUMNS))
    print()
    walls = ", ".join(f"{r.policy} {r.wall_seconds:.2f} s" for r in results)
    print(f"simulated in: {walls}")
    for r in results:
        extra = ", ".join(f"{k}={_figure(v)}" for k, v in r.extra.items())
        print(f"  {r.policy}: {extra}")
    print()


def _figure(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _by(results: list[SimResult]) -> dict[str, SimResult]:
    return {r.policy: r for r in results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--only-destinations", action="store_true")
    options = parser.parse_args()
    seed = options.seed
    everything = list(POLICIES)
    runs: dict[str, list[SimResult]] = {}
    print(f"seed {seed}; same concurrency cap for every policy; figures from one run each")
    figures = measured()
    print(
        f"agents on the measured figures: {figures.agent_records_per_second:,.0f} records/s of "
        f"own work, {figures.records_per_request:.1f} records and "
        f"{figures.request_seconds * 1000:.1f} ms a request, {figures.rows_per_record:.1f} rows "
        f"a record (from {figures.source.get('benchmark', '?')}, "
        f"{figures.source.get('date', '?')}, commit {figures.source.get('commit', '?')})\n"
    )
    if options.only_destinations:
        _destinations(seed, everything)
        return 0
    for name, spec in SCENARIOS.items():
        results = _run(name, seed, 10, everything)
        runs[name] = results
        _print(f"{name}: {spec.summary} (concurrency 10)", results)
        if not options.no_plots:
            from spoolwatch.sim.plot import plot_results

            IMAGES.mkdir(parents=True, exist_ok=True)
            plot_results(results, IMAGES / f"simulator-{name}.png", title=f"{name} (seed {seed})")
    burst100 = _run("burst-1m", seed, 100, everything)
    _print("burst-1m at concurrency 100", burst100)
    # the recipe floods its agent queue at this cap (millions of recruit messages, each an
    # invocation in the simulation): it is left out to keep the benchmark short
    burst1000 = _run("burst-1m", seed, 1000, ["spoolwatch", "lambda-esm", "keda"])
    _print("burst-1m at concurrency 1000 (spoolwatch, lambda-esm, keda)", burst1000)
    minute = []
    for cap in (10, 100, 1000):
        params = SimParams(concurrency=cap, schedule_seconds=60.0)
        result = simulate("spoolwatch", "burst-1m", seed=seed, params=params)
        minute.append(dataclasses.replace(result, policy=f"spoolwatch, cap {cap}"))
    print("### burst-1m, spoolwatch with rate(1 minute) at concurrency 10, 100, 1000")
    print()
    print(text_table(minute, TIME_COLUMNS))
    print()
    _headlines(runs, {10: _by(runs["burst-1m"]), 100: _by(burst100), 1000: _by(burst1000)})
    print()
    _destinations(seed, everything)
    return 0


#: spoolwatch's agent caps swept against each destination.
CAPS = (10, 20, 50, 100, 200)
DESTINATION_HEADERS = ["cap", "drained s", "records/s", "peak agents", "429s", "total $", "lost"]


def _destinations(seed: int, policies: list[str]) -> None:
    """The burst against each destination with a capacity: every policy at caps 10 and 100,
    then spoolwatch's drain time and cost against its cap (``unlimited`` beside them)."""
    limited = [name for name, capacity in DESTINATIONS.items() if capacity.limited]
    for name in limited:
        capacity = DESTINATIONS[name]
        for cap in (10, 100):
            params = params_named(destination=name, concurrency=cap)
            results = [
                simulate(policy, "burst-1m", seed=seed, params=params) for policy in policies
            ]
            _print(
                f"burst-1m against {name} ({capacity.summary}: {capacity.requests_per_second:,.0f} "
                f"requests/s, {capacity.rows_per_second:,.0f} rows/s), concurrency {cap}",
                results,
            )
    print("### burst-1m, spoolwatch: drain time and cost against the agent cap, by destination")
    print()
    knees: list[str] = []
    for name in ["unlimited", *limited]:
        rows = []
        for cap in CAPS:
            params = params_named(destination=name, concurrency=cap)
            r = simulate("spoolwatch", "burst-1m", seed=seed, params=params)
            rows.append((cap, r))
        print(f"{name} ({DESTINATIONS[name].summary})")
        print(_cap_table(rows))
        print()
        best = min(r.drained_at or float("inf") for _, r in rows)
        knee = next(cap for cap, r in rows if (r.drained_at or float("inf")) <= 1.1 * best)
        knees.append(f"{name}: cap {knee} drains within 10 % of the fastest ({best:,.0f} s)")
    print("more agents stop helping at: " + "; ".join(knees))


def _cap_table(rows: list[tuple[int, SimResult]]) -> str:
    body = [
        [
            str(cap),
            "not drained" if r.drained_at is None else f"{r.drained_at:,.0f}",
            "-" if r.drained_at is None else f"{r.records / r.drained_at:,.0f}",
            str(r.peak_agents),
            f"{r.extra.get('destination_429s', 0):,}",
            f"{r.cost['total']:.4f}",
            f"{r.lost:,}",
        ]
        for cap, r in rows
    ]
    widths = [
        max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(DESTINATION_HEADERS)
    ]
    lines = ["  ".join(h.rjust(w) for h, w in zip(DESTINATION_HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


def _headlines(runs: dict[str, list[SimResult]], bursts: dict[int, dict[str, SimResult]]) -> None:
    print("### headline")
    print()
    for cap, by in bursts.items():
        ours, esm = by["spoolwatch"].drained_at, by["lambda-esm"].drained_at
        print(
            f"burst-1m, concurrency {cap}: spoolwatch drains in {ours:.0f} s, "
            f"lambda-esm in {esm:.0f} s"
        )
    diurnal = _by(runs["diurnal"])
    ours_cost, static_cost = diurnal["spoolwatch"].cost["total"], diurnal["static"].cost["total"]
    print(
        f"diurnal day: spoolwatch ${ours_cost:.2f}, static ${static_cost:.2f} "
        f"({100 * ours_cost / static_cost:.0f} % of static), lambda-esm "
        f"${diurnal['lambda-esm'].cost['total']:.2f}"
    )
    outage = _by(runs["outage"])
    for name in ("spoolwatch", "lambda-esm", "recipe", "keda", "static"):
        r = outage[name]
        known = (
            "does not ask for known records"
            if r.known_skipped is None
            else f"{r.known_skipped:,} redelivered records deleted unsent, the destination "
            f"had them (look-ups: {r.extra['known_lookups']:,}, of which failed: "
            f"{r.extra['known_lookups_failed']:,})"
        )
        print(
            f"outage: {name} lost {r.lost:,}, duplicates {r.duplicates:,}, "
            f"backlog back to <= 1,000 at {r.drained_at or 0:.0f} s; {known}"
        )
    for name, results in runs.items():
        x = _by(results)["spoolwatch"].extra
        first = x["wake_first_at"]
        print(
            f"{name}: spoolwatch's wake function first ran at "
            f"{'-' if first is None else f'{first:.1f} s'}, {x['wake_invocations']:,} "
            f"invocations delivered {x['wake_delivered']:,} records and recruited "
            f"{x['wake_recruited']:,} agents; switch armed {x['wake_arms']:,} and disarmed "
            f"{x['wake_disarms']:,} times ({x['wake_updates_in_transition']:,} mapping "
            "updates asked while the previous one was being applied)"
        )


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"\nbench/simulate.py took {time.perf_counter() - started:.0f} s")
    raise SystemExit(code)
