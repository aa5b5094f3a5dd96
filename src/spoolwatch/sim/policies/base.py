"""The contract of a scaling policy in the simulator.

A policy decides when agents start and stop; the world (:class:`~spoolwatch.sim.world.World`)
provides the data queue, the destination's faults, the cost ledger and the figures. A
policy:

* is built with the world and the scenario's ``schedule_phase`` (where in its period a
  scheduled policy's first tick falls: 0.5 = halfway, the mean case for a backlog that
  appears at a random moment);
* registers its simpy processes in :meth:`Policy.start`, before the run begins, and never
  after;
* counts over-recruitment in ``world.over_recruited`` (agents it started that processed
  no record) and reports what only it has in :meth:`Policy.figures`;
* sets ``looks_up_known`` when its agents are spoolwatch's (they look up redelivered
  records before sending them: :func:`~spoolwatch.sim.agent_cycle.skip_known`), so that
  its results report ``known_skipped``;
* bills what it does besides draining: its own DynamoDB use, schedules and agent queues.
  Draining is billed by :func:`~spoolwatch.sim.model.drain`.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from spoolwatch.sim.world import World

__all__ = ["Policy"]


class Policy(abc.ABC):
    """One way of scaling agents with the backlog."""

    name: ClassVar[str]
    summary: ClassVar[str]
    #: Whether its agents are spoolwatch's, which look up redelivered records.
    looks_up_known: ClassVar[bool] = False

    def __init__(self, world: World, *, schedule_phase: float = 0.5) -> None:
        self.world = world
        self.schedule_phase = schedule_phase

    @abc.abstractmethod
    def start(self) -> None:
        """Register the policy's processes with ``self.world.env``."""

    def figures(self) -> dict[str, float | int | str | None]:
        """Figures particular to this policy (breaker openings, loop stops, ...)."""
        return {}

    def first_tick(self, period: float) -> float:
        """When a schedule of ``period`` seconds first fires."""
        return self.schedule_phase * period
