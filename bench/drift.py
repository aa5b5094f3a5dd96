"""Benchmark of the ``spoolwatch drift`` statistics: 100k reference rows, 1M current rows.

15 columns (10 numeric, 5 categorical), three drifted:

* ``num_0``: mean shifted by +0.25 standard deviations;
* ``num_1``: mean shifted by +0.2 sd and spread scaled by 1.3;
* ``cat_0``: category frequencies 40/30/20/10 % become 30/30/25/15 %.

The timed part is everything ``spoolwatch drift`` computes once the data is in memory:
building the baseline from the reference, binning the current rows, the metric, the test and
the status per column. Run on one core::

    taskset -c 0 .venv/bin/python bench/drift.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np

from spoolwatch.monitoring import DriftConfig, DriftStatus, drift_between

DRIFTED = {"num_0", "num_1", "cat_0"}


def _numeric(rng: np.random.Generator, i: int, n: int, drifted: bool) -> np.ndarray:
    kind = i % 5
    if kind == 0:
        values = rng.normal(50.0, 10.0, n)
    elif kind == 1:
        values = rng.lognormal(3.0, 0.5, n)
    elif kind == 2:
        values = rng.exponential(2.0, n)
    elif kind == 3:
        values = rng.uniform(-1.0, 1.0, n)
    else:
        values = rng.poisson(4.0, n).astype(np.float64)
    if drifted and i == 0:
        values = values + 0.25 * 10.0
    if drifted and i == 1:
        centre = np.exp(3.0 + 0.5**2 / 2)
        sd = centre * np.sqrt(np.exp(0.5**2) - 1)
        values = centre + (values - centre) * 1.3 + 0.2 * sd
    values[rng.random(n) < 0.01] = np.nan
    return values


def _categorical(rng: np.random.Generator, i: int, n: int, drifted: bool) -> np.ndarray:
    if i == 0:
        probs = np.array([0.3, 0.3, 0.25, 0.15] if drifted else [0.4, 0.3, 0.2, 0.1])
    else:
        size = [0, 3, 10, 30, 120][i]
        # Fixed per-column frequencies, skewed like real categories; 120 exceeds the cap of 50.
        probs = np.random.default_rng(100 + i).dirichlet(np.ones(size))
    names = np.array([f"c{i}_{k}" for k in range(probs.size)] + [None], dtype=object)
    with_missing = np.append(probs * 0.99, 0.01)
    return names[rng.choice(names.size, size=n, p=with_missing)]


def make_data(n_reference: int, n_current: int, seed: int) -> tuple[dict[str, Any], ...]:
    """Reference and current columns, both from a fixed seed."""
    rng = np.random.default_rng(seed)
    reference: dict[str, Any] = {}
    current: dict[str, Any] = {}
    for i in range(10):
        name = f"num_{i}"
        reference[name] = _numeric(rng, i, n_reference, False)
        current[name] = _numeric(rng, i, n_current, name in DRIFTED)
    for i in range(5):
        name = f"cat_{i}"
        reference[name] = _categorical(rng, i, n_reference, False)
        current[name] = _categorical(rng, i, n_current, name in DRIFTED)
    return reference, current


def main(argv: list[str] | None = None) -> int:
    """Generate the data, time the drift computation, print figures and statuses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--current-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--metric", default="psi")
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args(argv)

    reference, current = make_data(args.reference_rows, args.current_rows, args.seed)
    config = DriftConfig(metric=args.metric)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = drift_between(reference, current, config=config)
        times.append(time.perf_counter() - start)

    print(
        f"rows: reference {args.reference_rows:,}, current {args.current_rows:,}; "
        f"15 columns; metric {args.metric}"
    )
    print(
        f"wall time: first {times[0]:.3f} s, median {statistics.median(times):.3f} s, "
        f"best {min(times):.3f} s over {len(times)} runs"
    )
    wrong = 0
    for drift in report.features:
        expected = "drifted" if drift.name in DRIFTED else "not drifted"
        flagged = drift.status in (DriftStatus.YELLOW, DriftStatus.RED)
        ok = flagged == (drift.name in DRIFTED)
        wrong += not ok
        print(
            f"  {drift.name:6s} {expected:11s} {args.metric}={drift.value:.5f} "
            f"p={drift.p_value:.2g} {drift.status.value:6s} {'ok' if ok else 'WRONG'}"
        )
    print(f"deployment status: {report.status.value}; misjudged columns: {wrong}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
