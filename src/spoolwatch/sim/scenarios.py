"""The scenarios: when records arrive, what fails, how long the run lasts.

* ``burst-1m``: 1,000,000 records appear at once at t = 0; 2 hours.
* ``diurnal``: a day of traffic, 50 records/s on average, from 10/s at midnight to 90/s at
  noon (a cosine), Poisson counts per second; 24 hours plus an hour to finish.
* ``spiky``: Poisson traffic at 20 records/s with spikes (on average one every 30 minutes,
  50,000-200,000 records over a minute); 6 hours.
* ``outage``: a 1,000,000-record backlog at t = 0 and 100 records/s over 2 hours; the
  destination fails from t = 180 s for 20 minutes while every policy but the recipe (whose
  first agent comes at 450 s) is draining, and at t = 160 s the next agent to send crashes
  between its send and its delete; 3 hours.

Steady traffic (and the spikes' base) arrives as Poisson counts every tenth of a second.

"Drained" is when the backlog first emptied after the last arrival; for ``outage``, when
it first fell to 1,000 records (10 s of traffic) after the destination came back.

Scheduled policies' first tick falls halfway through their period (``schedule_phase``
0.5): the backlog of ``burst-1m`` appears at a random moment of the schedule, on average
halfway.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SCENARIOS", "Scenario"]

Arrivals = list[tuple[float, int]]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario: arrivals drawn from the seed's generator, faults, horizon."""

    name: str
    summary: str
    horizon: float
    arrivals: Callable[[np.random.Generator], Arrivals]
    outages: tuple[tuple[float, float], ...] = ()
    crashes: tuple[float, ...] = ()
    schedule_phase: float = 0.5
    sample_seconds: float = 10.0
    drain_from: float | None = None
    drain_threshold: int = 0


#: Steady traffic arrives in Poisson counts every tenth of a second: fine enough that a
#: pod's read (two receives 0.5 s apart) finds the queue empty about as often as with
#: continuous arrivals (at 20 records/s: once in e^8 to e^10 reads, not once in e^5), and a
#: Lambda agent's long poll (20 s) returns within 0.1 s of the next record.
ARRIVAL_STEP = 0.1


def _burst(rng: np.random.Generator) -> Arrivals:
    return [(0.0, 1_000_000)]


def _poisson(
    rng: np.random.Generator, rate: Callable[[float], float], end: float, step: float
) -> Arrivals:
    times = np.arange(0.0, end, step)
    counts = rng.poisson([rate(float(t)) * step for t in times])
    return [(float(t), int(c)) for t, c in zip(times, counts, strict=True) if c]


def _diurnal(rng: np.random.Generator) -> Arrivals:
    def rate(t: float) -> float:
        return 50.0 - 40.0 * math.cos(2 * math.pi * t / 86_400.0)

    return _poisson(rng, rate, 86_400.0, ARRIVAL_STEP)


def _spiky(rng: np.random.Generator) -> Arrivals:
    end = 6 * 3600.0
    base = dict(_poisson(rng, lambda t: 20.0, end, ARRIVAL_STEP))
    t = float(rng.exponential(1800.0))
    while t < end - 60:
        size = int(rng.integers(50_000, 200_001))
        start = int(t)
        for second in range(60):
            base[float(start + second)] = base.get(float(start + second), 0) + size // 60
        t += float(rng.exponential(1800.0))
    return sorted(base.items())


def _outage(rng: np.random.Generator) -> Arrivals:
    traffic = _poisson(rng, lambda t: 100.0, 2 * 3600.0, ARRIVAL_STEP)
    if traffic and traffic[0][0] == 0.0:
        traffic[0] = (0.0, traffic[0][1] + 1_000_000)
    else:
        traffic.insert(0, (0.0, 1_000_000))
    return traffic


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("burst-1m", "1,000,000 records at once", 2 * 3600.0, _burst, sample_seconds=5.0),
        Scenario(
            "diurnal",
            "a day of diurnal traffic (50/s mean)",
            25 * 3600.0,
            _diurnal,
            sample_seconds=60.0,
        ),
        Scenario(
            "spiky", "Poisson 20/s with spikes of 50k-200k", 6 * 3600.0, _spiky, sample_seconds=10.0
        ),
        Scenario(
            "outage",
            "1M backlog + 100/s; destination down 20 min from 180 s; one crash",
            3 * 3600.0,
            _outage,
            outages=((180.0, 1380.0),),
            crashes=(160.0,),
            drain_from=1380.0,
            drain_threshold=1000,
            sample_seconds=10.0,
        ),
    )
}
