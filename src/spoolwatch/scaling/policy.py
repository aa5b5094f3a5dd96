"""The scaling policy: how many more agents to recruit, as a pure function.

:func:`decide` takes what the caller measured and returns a :class:`Decision`. It does no
I/O and reads no clock, so the Lambda handler and the simulator run exactly the same rules:

1. **Breaker open → 0.** While the circuit breaker is open nobody is recruited
   (``breaker_open``); a caller refused by a half-open breaker (another agent is the probe)
   recruits nobody either (``probe_in_flight``).
2. **Empty backlog → 0** (``empty_backlog``). The backlog is ``visible + in_flight``: SQS's
   ApproximateNumberOfMessages alone lags and misses records being worked on.
3. **Half-open → at most the single probe.** Only one agent may test the destination: if
   any agent runs or was requested (``running + pending >= 1``), or the caller is itself
   the probe (``breaker`` is a :class:`BreakerDecision` with ``probe=True``), nobody is
   recruited (``probe_running``), else exactly one (``probe``).
4. **Wanted agents** = ``ceil(backlog / records_per_agent)``, capped at
   ``target_concurrency``.
5. **Recruits** = ``max(0, wanted - running - pending)``: agents already running (holding a
   lease, the caller included when it holds one) and recruits already requested (messages
   waiting in the agent queue) count, so repeated decisions do not over-recruit
   (``enough_agents``). As ``wanted <= target_concurrency``, ``running + pending + recruits``
   never exceeds the target (``scale_up``).
6. **Full reads → at least double.** SQS's approximate counts lag the queue (by up to a
   minute after a burst), so a fleet recruited by counts alone waits that long to grow. A
   caller whose last read came back full (``saturated=True``: it asked for a batch and got
   all of it) has seen work the counts may not show yet: the backlog is taken as at least
   one record and ``wanted`` as at least ``min(target, 2 * max(1, running))``, so the fleet
   doubles per round of new agents until the counts catch up or reads stop coming back full.
   It never overrides rules 1 and 3 (breaker open, half-open).
7. **The destination's ceiling → no more.** A caller that sees the destination at its
   ceiling (:mod:`~spoolwatch.scaling.ceiling`: ``throttled=True``, it answered 429 since
   the caller's previous decision; or the fleet grew while reads came back full and the
   accepted rate did not follow, from ``throughput`` and ``before``) recruits nobody
   (``destination_full``); ``wanted`` is then at most ``max(1, running)``, so rule 6 does
   not grow the fleet either. What the fleet learned of the ceiling (``ceiling``: at most so
   many agents, :func:`~spoolwatch.scaling.ceiling.ceiling_cap`) caps ``wanted`` for every
   caller (``ceiling="learned"`` when it held the decision back), so the surplus rule stops
   the agents beyond it. Rules 1-3 come first.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from spoolwatch.errors import ConfigError
from spoolwatch.scaling.base import BreakerDecision, BreakerState
from spoolwatch.scaling.ceiling import Throughput, is_flat
from spoolwatch.scaling.settings import ScalingSettings

__all__ = ["Decision", "decide"]


@dataclass(frozen=True, slots=True)
class Decision:
    """How many agents to recruit, why, and everything the decision was based on."""

    recruits: int
    reason: str
    visible: int
    in_flight: int
    running: int
    pending: int
    breaker: BreakerState
    backlog: int
    wanted: int
    target_concurrency: int
    records_per_agent: int
    saturated: bool = False
    #: Why the destination is taken to be at its ceiling (``throttled``, ``flat``), or None.
    ceiling: str | None = None
    #: The caller's accepted rate and the agents running now, when the caller gave its rate:
    #: the ``before`` of its next decision.
    throughput: Throughput | None = None

    def as_log(self) -> dict[str, Any]:
        """A flat dict for one structured (JSON) log line."""
        fields = asdict(self)
        fields["breaker"] = self.breaker.value
        throughput = fields.pop("throughput")
        if throughput is not None:
            fields["per_agent_rate"] = round(throughput["per_agent"], 3)
        return {"event": "scaling_decision", **fields}


def decide(
    visible: int,
    in_flight: int,
    running: int,
    pending: int,
    breaker: BreakerDecision | BreakerState,
    settings: ScalingSettings,
    *,
    saturated: bool = False,
    throttled: bool = False,
    per_agent_rate: float | None = None,
    before: Throughput | None = None,
    ceiling: int | None = None,
) -> Decision:
    """Apply the rules of this module's docstring; pure. ``per_agent_rate``: records a
    second the caller accepted since its previous decision (None: not measured), whose
    :attr:`Decision.throughput` was ``before``; ``ceiling``: the agents the fleet learned
    the destination takes (None: none learned)."""
    for name, value in (
        ("visible", visible),
        ("in_flight", in_flight),
        ("running", running),
        ("pending", pending),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"decide: {name} must be an integer >= 0, got {value!r}")
    if ceiling is not None and (
        isinstance(ceiling, bool) or not isinstance(ceiling, int) or ceiling < 1
    ):
        raise ConfigError(f"decide: ceiling must be an integer >= 1, got {ceiling!r}")
    if per_agent_rate is not None and not (0.0 <= per_agent_rate < math.inf):
        raise ConfigError(f"decide: per_agent_rate must be finite and >= 0, got {per_agent_rate!r}")
    state = breaker.state if isinstance(breaker, BreakerDecision) else BreakerState(breaker)
    backlog = visible + in_flight
    target = settings.target_concurrency
    if saturated:
        backlog = max(backlog, 1)
    wanted = min(math.ceil(backlog / settings.records_per_agent), target)
    if saturated:
        wanted = max(wanted, min(target, 2 * max(1, running)))
    throughput = None if per_agent_rate is None else Throughput(running, per_agent_rate)
    have = running + pending
    reached = "throttled" if throttled else None
    if reached is None and saturated and throughput is not None and is_flat(before, throughput):
        reached = "flat"
    limit = max(1, running) if reached is not None else None
    if ceiling is not None and (limit is None or ceiling < limit):
        limit = ceiling
        if wanted > ceiling:
            reached = reached or "learned"
    held_back = limit is not None and wanted > max(have, limit)
    if limit is not None:
        wanted = min(wanted, limit)
    ceiling_seen = reached

    def result(recruits: int, reason: str) -> Decision:
        return Decision(
            recruits=recruits,
            reason=reason,
            visible=visible,
            in_flight=in_flight,
            running=running,
            pending=pending,
            breaker=state,
            backlog=backlog,
            wanted=wanted,
            target_concurrency=target,
            records_per_agent=settings.records_per_agent,
            saturated=saturated,
            ceiling=ceiling_seen,
            throughput=throughput,
        )

    if state is BreakerState.OPEN:
        return result(0, "breaker_open")
    if isinstance(breaker, BreakerDecision) and not breaker.allowed:
        return result(0, "probe_in_flight" if state is BreakerState.HALF_OPEN else "breaker_open")
    if backlog == 0:
        return result(0, "empty_backlog")
    if state is BreakerState.HALF_OPEN:
        caller_is_probe = isinstance(breaker, BreakerDecision) and breaker.probe
        if caller_is_probe or have >= 1:
            return result(0, "probe_running")
        return result(1, "probe")
    recruits = max(0, wanted - have)
    if held_back and recruits == 0:
        return result(0, "destination_full")
    return result(recruits, "scale_up" if recruits else "enough_agents")
