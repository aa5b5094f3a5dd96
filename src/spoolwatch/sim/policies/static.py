"""``static``: N always-on agents (pods), started before the run, never scaled.

Each agent is spoolwatch's agent in its serial cycle with the config's default read batch of
500 (about 200 records/s; :func:`~spoolwatch.sim.model.drain`), looks up the redelivered
records of a read before sending them as that agent does (those the destination already
accepted are deleted unsent), polls an empty queue every 0.5 s, retries a failing
destination forever while extending the visibility of what it holds, and is billed per
second as a pod for the whole run. A crashed agent is replaced after ``restart_seconds``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from spoolwatch.sim.model import AGENT_READ_BATCH, drain
from spoolwatch.sim.policies.base import Policy
from spoolwatch.sim.world import AgentRun

__all__ = ["StaticPolicy", "run_pod"]

RESTART_SECONDS = 10.0


def run_pod(
    policy: Policy, agent: AgentRun, start_delay: float
) -> Generator[simpy.Event, Any, str]:
    """One agent pod: billed from creation, starts after ``start_delay``, drains until stopped."""
    world = policy.world
    env = world.env
    world.pod_started()
    try:
        if start_delay > 0:
            yield env.timeout(start_delay)
        if agent.stop:
            return "stopped"
        # the same agent as spoolwatch's, with its default read batch
        outcome = yield from drain(
            world,
            agent,
            deadline=None,
            until_empty=False,
            retry_forever=True,
            read_batch=AGENT_READ_BATCH,
        )
        if agent.processed == 0:
            world.over_recruited += 1
        return outcome
    finally:
        world.pod_stopped()


class StaticPolicy(Policy):
    """N agents that always run."""

    name = "static"
    summary = "N always-on agents"
    looks_up_known = True

    def start(self) -> None:
        """Start the N agents at time 0."""
        for _ in range(self.world.params.static_agents):
            self.world.env.process(self._keep_running())

    def _keep_running(self) -> Generator[simpy.Event, Any, None]:
        delay = 0.0
        while True:
            agent = AgentRun(self.world.new_name("pod"))
            outcome = yield from run_pod(self, agent, delay)
            if outcome != "crashed":
                return
            delay = RESTART_SECONDS
