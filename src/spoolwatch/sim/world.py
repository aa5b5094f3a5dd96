"""The simulated world of one run: its parameters, clock, queue, ledger, faults and figures.

:class:`World` holds the simpy environment, the data queue
(:class:`~spoolwatch.sim.sqs.SimQueue`), the cost ledger, the destination (its capacity:
:mod:`~spoolwatch.sim.destination`) and its faults, and the figures every policy is
measured by (agents over time, agent-seconds); :class:`AgentRun` is one draining agent.
How an agent drains: :mod:`spoolwatch.sim.model`. :class:`SimParams`' agent figures
default to the measured ones (:mod:`~spoolwatch.sim.measured`); :func:`params_named`
gives the ``easy`` set.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from spoolwatch.errors import ConfigError
from spoolwatch.sim.costs import CostLedger, Prices
from spoolwatch.sim.destination import DESTINATIONS, UNLIMITED, Capacity, Destination
from spoolwatch.sim.measured import EASY, PARAMETER_SETS, AgentFigures, measured
from spoolwatch.sim.sqs import SimQueue

__all__ = [
    "AGENT_THROUGHPUT",
    "AgentRun",
    "KnownLookups",
    "SimClock",
    "SimParams",
    "World",
    "params_named",
]

#: The easy path's records per second of one agent. ``bench/agent_throughput.py`` measured
#: 9,600-19,700 records/s for one agent process on a full core of the development machine
#: (25-row prediction records of one deployment); a 512 MB Lambda function gets about
#: 0.29 vCPU (1,769 MB = one vCPU), hence 3,000. The default is the real stream's
#: (:mod:`~spoolwatch.sim.measured`). The recipe's agents: the SQS receive bound
#: (``receivers x 10 / 20 ms`` = 2,000/s by default) binds first; spoolwatch's serial agent
#: adds this to its calls' latencies.
AGENT_THROUGHPUT = EASY.agent_records_per_second


@dataclass(frozen=True, slots=True, kw_only=True)
class SimParams:
    """Everything a run depends on besides the policy, the scenario and the seed."""

    concurrency: int = 10
    #: Records per second of one agent's own work (validate, encode, send).
    agent_throughput: float = field(default_factory=lambda: measured().agent_records_per_second)
    #: Records per HTTP request to the destination (``batching.max_records_per_request``).
    request_records: float = field(default_factory=lambda: measured().records_per_request)
    #: One request's round trip to a destination that is up.
    request_seconds: float = field(default_factory=lambda: measured().request_seconds)
    #: Prediction rows per record (what a destination's rows/s counts).
    rows_per_record: float = field(default_factory=lambda: measured().rows_per_record)
    #: What the destination accepts per second (:data:`~spoolwatch.sim.destination.DESTINATIONS`).
    destination: Capacity = UNLIMITED
    receivers: int = 4
    receive_latency_median: float = 0.020
    receive_latency_sigma: float = 0.5
    step_seconds: float = 1.0
    empty_wait_seconds: float = 2.0
    visibility_seconds: float = 120.0
    max_receive_count: int = 5
    in_flight_limit: int = 120_000
    approx_lag_seconds: float = 60.0
    record_bytes: int = 1024
    lambda_memory_gb: float = 0.5
    architecture: str = "arm64"
    cold_start_median: float = 0.8
    destination_fail_seconds: float = 5.0
    send_attempts: int = 3
    static_agents: int = 4
    schedule_seconds: float = 300.0  # spoolwatch's ScheduleExpression, rate(5 minutes)
    #: How long an event source mapping takes to start or stop polling after
    #: ``UpdateEventSourceMapping`` (spoolwatch's wake trigger: ``Enabling``/``Disabling``).
    #: An assumption, not a published figure.
    wake_switch_seconds: float = 30.0
    epoch: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    sample_seconds: float = 10.0
    prices: Prices = field(default_factory=Prices)


def params_named(
    name: str = "measured", *, destination: str = "unlimited", **changes: Any
) -> SimParams:
    """The parameter set ``name`` (``measured`` or ``easy``) against the destination preset
    ``destination``, with ``changes`` applied; :class:`ConfigError` for an unknown name."""
    if name not in PARAMETER_SETS:
        raise ConfigError(
            f"unknown parameter set {name!r}; choose from {', '.join(PARAMETER_SETS)}"
        )
    if destination not in DESTINATIONS:
        raise ConfigError(
            f"unknown destination {destination!r}; choose from {', '.join(DESTINATIONS)}"
        )
    figures: AgentFigures = measured() if name == "measured" else EASY
    return SimParams(
        agent_throughput=figures.agent_records_per_second,
        request_records=figures.records_per_request,
        request_seconds=figures.request_seconds,
        rows_per_record=figures.rows_per_record,
        destination=DESTINATIONS[destination],
        **changes,
    )


class SimClock:
    """A :class:`~spoolwatch.scaling.Clock` reading simpy's time plus an epoch."""

    def __init__(self, env: simpy.Environment, epoch: float) -> None:
        self.env = env
        self.epoch = epoch

    def now(self) -> float:
        """Epoch seconds of the simulation's current time."""
        return self.epoch + float(self.env.now)


@dataclass(eq=False)
class AgentRun:
    """One draining agent: its name, what it processed, and signals from outside."""

    name: str
    processed: int = 0
    #: Records its last read returned (0 for a read that found nothing).
    last_read: int = 0
    #: When the serial read in progress started (``ChannelStats.reading_since``), None
    #: between reads and for agents that read in steps.
    reading_since: float | None = None
    stop: bool = False
    crash: bool = False
    #: Sends the destination answered 429 (``ChannelStats.failures["http_429"]``).
    throttled: int = 0
    #: Triggered by :meth:`request_stop`: wakes a retry wait so it can give up in time.
    stopping: simpy.Event | None = None

    def request_stop(self, env: simpy.Environment) -> None:
        """Stop reading after the batch in hand; wake a retry wait to re-check its give-up."""
        self.stop = True
        if self.stopping is None:
            self.stopping = env.event()
        if not self.stopping.triggered:
            self.stopping.succeed()


class World:
    """The state of one run shared by the policy, the queue and the faults."""

    def __init__(
        self,
        params: SimParams,
        seed: int,
        *,
        outages: Sequence[tuple[float, float]] = (),
        drain_from: float | None = None,
        drain_threshold: int = 0,
    ) -> None:
        self.params = params
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.clock = SimClock(self.env, params.epoch)
        self.queue = SimQueue(
            self.env,
            max_receive_count=params.max_receive_count,
            in_flight_limit=params.in_flight_limit,
            approx_lag=params.approx_lag_seconds,
        )
        self.ledger = CostLedger(
            params.prices, record_bytes=params.record_bytes, architecture=params.architecture
        )
        self.outages = tuple(outages)
        self.destination = Destination(params.destination)
        self.drain_from = drain_from
        self.drain_threshold = drain_threshold
        self.active = 0
        self.peak_agents = 0
        self.agent_seconds = 0.0
        self._changed_at = 0.0
        self.pods = 0
        self.over_recruited = 0
        self.agents_started = 0
        self.crashes_due = 0
        self.crashes = 0
        self.known = KnownLookups()
        self.arrivals_done = False
        self.drained_at: float | None = None
        self.timeline: list[tuple[float, int, int]] = []
        self.agents: list[AgentRun] = []
        self._names = 0

    # --- environment of the agents --------------------------------------------------------

    def destination_up(self) -> bool:
        """Whether the destination accepts records now."""
        now = self.env.now
        return not any(start <= now < end for start, end in self.outages)

    def receive_latency(self) -> float:
        """One SQS call's latency in seconds."""
        median, sigma = self.params.receive_latency_median, self.params.receive_latency_sigma
        return float(self.rng.lognormal(math.log(median), sigma))

    def cold_start_seconds(self) -> float:
        """One Lambda cold start (INIT) in seconds."""
        return float(self.rng.lognormal(math.log(self.params.cold_start_median), 0.3))

    def new_name(self, prefix: str) -> str:
        """A unique, deterministic agent name."""
        self._names += 1
        return f"{prefix}-{self._names}"

    # --- figures --------------------------------------------------------------------------

    def _integrate(self) -> None:
        now = float(self.env.now)
        self.agent_seconds += self.active * (now - self._changed_at)
        self.ledger.pod_seconds += self.pods * (now - self._changed_at)
        self._changed_at = now

    def pod_started(self) -> None:
        """An always-on agent pod was created (billed from now and counted as an agent)."""
        self.agent_started()
        self.pods += 1

    def pod_stopped(self) -> None:
        """An agent pod ended."""
        self.agent_stopped()
        self.pods -= 1

    def agent_started(self, count: int = 1) -> None:
        """``count`` agents began to run (or to start)."""
        self._integrate()
        self.active += count
        self.agents_started += count
        self.peak_agents = max(self.peak_agents, self.active)

    def agent_stopped(self, count: int = 1) -> None:
        """``count`` agents stopped."""
        self._integrate()
        self.active -= count

    def finish(self) -> None:
        """Close the agent-seconds and pod-seconds integrals at the end of the run."""
        self._integrate()

    def check_drained(self) -> None:
        """Note when the backlog first emptied after the last arrival (or, with
        ``drain_from``, first fell to ``drain_threshold`` after that time)."""
        if self.drained_at is not None:
            return
        if self.drain_from is None:
            done = self.arrivals_done and self.queue.backlog() == 0
        else:
            done = self.env.now >= self.drain_from and self.queue.backlog() <= self.drain_threshold
        if done:
            self.drained_at = float(self.env.now)

    def sampler(self) -> Generator[simpy.Event, Any, None]:
        """Every ``sample_seconds``: the approximate-count snapshot and the timeline."""
        while True:
            self.queue.snapshot()
            self.check_drained()
            self.timeline.append((float(self.env.now), self.queue.backlog(), self.active))
            yield self.env.timeout(self.params.sample_seconds)

    def arrivals(self, schedule: Sequence[tuple[float, int]]) -> Generator[simpy.Event, Any, None]:
        """Add records at the given ``(time, count)`` points, in time order."""
        for when, count in schedule:
            if when > self.env.now:
                yield self.env.timeout(when - self.env.now)
            self.queue.add(count)
        self.arrivals_done = True
        self.check_drained()

    def crash_at(self, when: float) -> Generator[simpy.Event, Any, None]:
        """At ``when``, make the next agent that sends a batch crash before deleting it."""
        yield self.env.timeout(when)
        self.crashes_due += 1

    def take_crash(self) -> bool:
        """Claim a pending crash fault (for the agent or invocation asking)."""
        if self.crashes_due:
            self.crashes_due -= 1
            self.crashes += 1
            return True
        return False


@dataclass(slots=True)
class KnownLookups:
    """What the agents' look-ups of redelivered records did in one run."""

    #: Reads with records received before: one HTTP call each.
    calls: int = 0
    #: Calls made while the destination was down: nothing skipped, the records are sent.
    failed: int = 0
    #: Records the destination said it had accepted: deleted without a send.
    skipped: int = 0

    def figures(self) -> dict[str, int]:
        """The calls, as ``SimResult.extra`` reports them (the records are ``known_skipped``)."""
        return {"known_lookups": self.calls, "known_lookups_failed": self.failed}
