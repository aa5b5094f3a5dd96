"""The destination's ceiling: when more agents no longer raise the rate it accepts.

A destination takes so many requests and rows a second (a spoolwatch service on SQLite,
several on PostgreSQL, DataRobot's API); past that, more agents only queue behind each other.
Two signs say the fleet has reached it, both seen by one agent alone, without shared state:

* **Throttled.** The destination answered 429 since the agent's previous decision.
* **Flat.** The fleet grew since the previous decision while the agent's reads came back
  full (records waited), yet the fleet's accepted rate — the agent's own accepted rate
  times the agents running, as every agent sends the same way — rose by less than half of
  what the growth would give: :func:`is_flat`.

At the ceiling a decision recruits nobody (rule 7 of :mod:`~spoolwatch.scaling.policy`).
What one agent saw, the whole fleet learns: a decision the destination throttled leaves a
:class:`LearnedCeiling` (:func:`learn`) in a :class:`CeilingStore` — DynamoDB beside the
leases on AWS, memory in the simulator — and every decision, the schedule's and the wake
function's too, wants at most that many agents while it is fresh (:func:`ceiling_cap`). So
the fleet stops growing where the rate stops growing, and the surplus rule stops the agents
beyond it. The ceiling learned is the fleet that ran when the destination answered 429: it
takes what it can and asks the rest to wait, so fewer agents would leave capacity unused.
A flat rate holds the deciding agent's recruits but teaches the fleet nothing (one agent's
rate between two decisions also falls while it waits out a back-off). A fresh ceiling holds
until it runs out, :data:`CEILING_SECONDS` after it was learned — a fleet shrinking for
other reasons does not ratchet it down — then the fleet may grow again and find the
destination's capacity anew (it may have been scaled up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "CEILING_SECONDS",
    "MIN_GAIN_SHARE",
    "CeilingStore",
    "LearnedCeiling",
    "MemoryCeilingStore",
    "Throughput",
    "ceiling_cap",
    "is_flat",
    "learn",
]

#: How long a learned ceiling holds: one schedule period of the template (rate(5 minutes)).
CEILING_SECONDS = 300.0

#: Growing the fleet by a share ``g`` must raise the accepted rate by at least this share of
#: ``g`` (an 11th agent of 10 by 5 %), else the growth has stopped paying.
MIN_GAIN_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Throughput:
    """What one agent saw between two decisions: the agents running at the later one and
    the records a second it had accepted since the earlier one."""

    running: int
    per_agent: float

    @property
    def fleet(self) -> float:
        """The fleet's accepted rate, estimated from this agent's."""
        return self.running * self.per_agent


def is_flat(
    before: Throughput | None, now: Throughput, min_gain_share: float = MIN_GAIN_SHARE
) -> bool:
    """Whether the fleet grew from ``before`` to ``now`` without its accepted rate following.

    False without a ``before``, when the fleet did not grow, or when nothing was accepted
    before (no rate to compare with).
    """
    if before is None or now.running <= before.running or before.fleet <= 0:
        return False
    growth = now.running / before.running - 1.0
    return now.fleet < before.fleet * (1.0 + min_gain_share * growth)


@dataclass(frozen=True, slots=True)
class LearnedCeiling:
    """At most ``agents`` are wanted until ``until`` (clock seconds)."""

    agents: int
    until: float


class CeilingStore(Protocol):
    """Where the fleet keeps its learned ceiling."""

    def read(self) -> LearnedCeiling | None:
        """The ceiling last written, fresh or not; None when none was."""
        ...

    def write(self, ceiling: LearnedCeiling) -> None:
        """Keep ``ceiling`` (the last write wins)."""
        ...


class MemoryCeilingStore:
    """A :class:`CeilingStore` in memory (tests, the simulator)."""

    def __init__(self) -> None:
        self.ceiling: LearnedCeiling | None = None
        self.writes = 0

    def read(self) -> LearnedCeiling | None:
        """The ceiling last written."""
        return self.ceiling

    def write(self, ceiling: LearnedCeiling) -> None:
        """Keep ``ceiling``."""
        self.ceiling = ceiling
        self.writes += 1


def ceiling_cap(ceiling: LearnedCeiling | None, now: float) -> int | None:
    """The agents a fresh ``ceiling`` allows, or None (none learned, or it ran out)."""
    if ceiling is None or now >= ceiling.until:
        return None
    return ceiling.agents


def learn(
    why: str | None, *, running: int, known: LearnedCeiling | None, now: float
) -> LearnedCeiling | None:
    """The ceiling a decision teaches (``why``: its :attr:`Decision.ceiling`): the
    ``running`` agents when it was ``throttled``; None for any other (``flat``, ``learned``,
    None), and while a ``known`` one is fresh."""
    if why != "throttled" or ceiling_cap(known, now) is not None:
        return None
    return LearnedCeiling(max(1, running), now + CEILING_SECONDS)
