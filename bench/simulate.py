"""Scaling policies compared in the simulator: every scenario, every policy, one seed.

Prints, per scenario, the timing table and the cost-and-delivery table of
``spoolwatch simulate --policy all --scenario NAME`` (concurrency 10, the SAM template's
default ``TargetConcurrency``), the burst again at concurrency 100 and 1,000, the wall time
of each run, and the headline comparisons. Draws ``docs/img/simulator-<scenario>.png``.
Usage: ``python bench/simulate.py [--seed N] [--no-plots]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from spoolwatch.sim.policies import POLICIES
from spoolwatch.sim.report import COST_COLUMNS, TIME_COLUMNS, text_table
from spoolwatch.sim.run import SimResult, simulate
from spoolwatch.sim.scenarios import SCENARIOS
from spoolwatch.sim.world import SimParams

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
    options = parser.parse_args()
    seed = options.seed
    everything = list(POLICIES)
    runs: dict[str, list[SimResult]] = {}
    print(f"seed {seed}; same concurrency cap for every policy; figures from one run each\n")
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
    return 0


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
