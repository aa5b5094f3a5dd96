"""Run one policy through one scenario and collect the figures."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from spoolwatch.errors import ConfigError
from spoolwatch.sim.policies import POLICIES
from spoolwatch.sim.scenarios import SCENARIOS
from spoolwatch.sim.world import SimParams, World

__all__ = ["SimResult", "simulate", "simulate_all"]


@dataclass(frozen=True, slots=True)
class SimResult:
    """The figures of one run (times in seconds, money in dollars; record ages from a
    histogram of 1 % bins: ``age_max`` is the upper edge of the oldest one's bin)."""

    policy: str
    scenario: str
    seed: int
    records: int
    delivered: int
    drained_at: float | None
    age_p50: float | None
    age_p95: float | None
    age_p99: float | None
    age_p999: float | None
    age_max: float | None
    peak_agents: int
    agent_seconds: float
    cost: dict[str, float]
    duplicates: int
    lost: int
    #: Records spoolwatch's agent deleted unsent because the destination said it had them
    #: (``None`` for policies whose agents do not look up redelivered records).
    known_skipped: int | None
    over_recruited: int
    remaining: int
    wall_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    timeline: list[tuple[float, int, int]] = field(default_factory=list, repr=False)

    def as_dict(self, *, timeline: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; the timeline only when asked for."""
        fields = dataclasses.asdict(self)
        if not timeline:
            fields.pop("timeline")
        return fields


def _check(policy: str, scenario: str, seed: int) -> None:
    if policy not in POLICIES:
        raise ConfigError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")


@contextlib.contextmanager
def _quiet_scaling() -> Iterator[None]:
    """The scaling code logs every breaker transition; a simulation makes thousands."""
    logger = logging.getLogger("spoolwatch.scaling")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def simulate(
    policy: str, scenario: str, *, seed: int = 0, params: SimParams | None = None
) -> SimResult:
    """Run ``policy`` through ``scenario``; the same seed gives the same figures."""
    _check(policy, scenario, seed)
    spec = SCENARIOS[scenario]
    base = params or SimParams()
    params = dataclasses.replace(base, sample_seconds=spec.sample_seconds)
    started = time.perf_counter()
    world = World(
        params,
        seed,
        outages=spec.outages,
        drain_from=spec.drain_from,
        drain_threshold=spec.drain_threshold,
    )
    arrivals = spec.arrivals(world.rng)
    chosen = POLICIES[policy](world, schedule_phase=spec.schedule_phase)
    world.env.process(world.sampler())
    world.env.process(world.arrivals(arrivals))
    for when in spec.crashes:
        world.env.process(world.crash_at(when))
    with _quiet_scaling():
        chosen.start()
        world.env.run(until=spec.horizon)
    world.finish()
    queue = world.queue
    return SimResult(
        policy=policy,
        scenario=scenario,
        seed=seed,
        records=queue.arrived,
        delivered=queue.acked,
        drained_at=world.drained_at,
        age_p50=queue.ages.percentile(50),
        age_p95=queue.ages.percentile(95),
        age_p99=queue.ages.percentile(99),
        age_p999=queue.ages.percentile(99.9),
        age_max=queue.ages.percentile(100),
        peak_agents=world.peak_agents,
        agent_seconds=world.agent_seconds,
        cost=world.ledger.breakdown(),
        duplicates=queue.duplicates,
        lost=queue.lost,
        known_skipped=world.known.skipped if chosen.looks_up_known else None,
        over_recruited=world.over_recruited,
        remaining=queue.backlog(),
        wall_seconds=time.perf_counter() - started,
        extra={
            "crashes": world.crashes,
            **(world.known.figures() if chosen.looks_up_known else {}),
            **chosen.figures(),
            **(world.destination.figures() if params.destination.limited else {}),
        },
        timeline=world.timeline,
    )


def simulate_all(
    scenario: str, *, seed: int = 0, params: SimParams | None = None
) -> list[SimResult]:
    """Every policy through ``scenario``, in the order of ``POLICIES``."""
    return [simulate(name, scenario, seed=seed, params=params) for name in POLICIES]
