"""``keda``: KEDA's SQS scaler driving a Kubernetes HPA over agent pods.

As KEDA and the HPA document them (parameters as KEDA's defaults unless noted):

* KEDA polls the queue every ``polling_interval`` (30 s): ApproximateNumberOfMessages plus
  ...NotVisible (``scaleOnInFlight``), both lagging like every approximate count here.
* Wanted replicas = ``ceil((visible + in-flight) / queue_length)``, between 0 and
  ``max_replicas``; ``queue_length`` is set to 500 (KEDA's default is 5) so one pod is
  wanted per 500 records, like the other policies.
* KEDA itself activates 0 → 1 and deactivates 1 → 0 after ``cooldown_period`` (300 s)
  without messages; between 1 and max the HPA acts every 15 s: up by at most
  ``max(100 %, 4 pods)`` per 15 s, down to the highest recommendation of the last 300 s
  (scale-down stabilisation window).
* A new pod runs after ``pod_start_seconds`` (scheduling, image on the node, start-up) and is
  billed from creation; a removed pod finishes its step and exits. The HPA never asks for
  more than ``max_replicas``.

The pods run spoolwatch's agent as ``static``'s do
(:func:`~spoolwatch.sim.policies.static.run_pod`), its look-up of redelivered records
included.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from spoolwatch.sim.policies.base import Policy
from spoolwatch.sim.policies.static import RESTART_SECONDS, run_pod
from spoolwatch.sim.world import AgentRun, World

__all__ = ["KedaPolicy"]


class KedaPolicy(Policy):
    """Pods scaled by KEDA's SQS scaler and the HPA."""

    name = "keda"
    summary = "KEDA SQS scaler + HPA over always-on pods"
    looks_up_known = True

    polling_interval = 30.0
    hpa_sync = 15.0
    queue_length = 500
    cooldown_period = 300.0
    stabilization_window = 300.0
    pod_start_seconds = 15.0

    def __init__(self, world: World, *, schedule_phase: float = 0.5) -> None:
        super().__init__(world, schedule_phase=schedule_phase)
        self.max_replicas = world.params.concurrency
        self.pods: list[AgentRun] = []
        self.replicas_peak = 0
        self.metric = 0
        self.last_active = -math.inf
        self._recommendations: deque[tuple[float, int]] = deque()

    def start(self) -> None:
        """Start the operator loop."""
        self.world.env.process(self._operate())

    def figures(self) -> dict[str, float | int | str | None]:
        """The most replicas the HPA asked for."""
        return {"replicas_peak": self.replicas_peak}

    def _operate(self) -> Generator[simpy.Event, Any, None]:
        env = self.world.env
        next_poll = 0.0
        while True:
            if env.now >= next_poll:
                visible, in_flight = self.world.queue.approx()
                self.world.ledger.sqs_call()
                self.metric = visible + in_flight
                if self.metric > 0:
                    self.last_active = env.now
                next_poll += self.polling_interval
            self._scale_to(self._desired(env.now))
            yield env.timeout(self.hpa_sync)

    def _desired(self, now: float) -> int:
        current = len(self.pods)
        wanted = min(math.ceil(self.metric / self.queue_length), self.max_replicas)
        if current == 0:
            return 1 if self.metric > 0 else 0
        self._recommendations.append((now, wanted))
        while self._recommendations[0][0] < now - self.stabilization_window:
            self._recommendations.popleft()
        if wanted > current:
            return min(wanted, max(2 * current, current + 4))
        stabilised = max(r for _, r in self._recommendations)
        target = min(current, stabilised)
        if target == 0 and now - self.last_active < self.cooldown_period:
            return 1
        return target

    def _scale_to(self, replicas: int) -> None:
        replicas = max(0, min(replicas, self.max_replicas))
        while len(self.pods) < replicas:
            agent = AgentRun(self.world.new_name("pod"))
            self.pods.append(agent)
            self.world.env.process(self._pod(agent))
        while len(self.pods) > replicas:
            self.pods.pop().stop = True
        self.replicas_peak = max(self.replicas_peak, len(self.pods))

    def _pod(self, agent: AgentRun) -> Generator[simpy.Event, Any, None]:
        delay = self.pod_start_seconds
        while True:
            outcome = yield from run_pod(self, agent, delay)
            if outcome != "crashed" or agent.stop:
                return
            delay = RESTART_SECONDS
            agent.crash = False
