"""The destination's ceiling: when more agents no longer raise the rate it accepts.

A destination takes so many requests and rows a second (a spoolwatch service on SQLite,
several on PostgreSQL, DataRobot's API); past that, more agents only queue behind each other.
Two signs say the fleet has reached it, both seen by one agent alone, without shared state:

* **Throttled.** The destination answered 429 since the agent's previous decision.
* **Flat.** The fleet grew since the previous decision while the agent's reads came back
  full (records waited), yet the fleet's accepted rate — the agent's own accepted rate
  times the agents running, as every agent sends the same way — rose by less than half of
  what the growth would give: :func:`is_flat`.

At the ceiling a decision recruits nobody (rule 7 of :mod:`~spoolwatch.scaling.policy`):
the fleet stops growing where the rate stops growing. It does not shrink for it; the surplus
rule still stops agents once the backlog wants fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIN_GAIN_SHARE", "Throughput", "is_flat"]

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
