"""Modelled AWS Lambda: environments, cold starts, the scaling limit, the 900 s limit, billing,
and the SQS trigger of an *agent queue* (the queue recruits are posted to).

Approximations:

* An invocation reuses an idle environment (kept ``keep_warm`` seconds) or starts a new one
  with a cold start drawn from a log-normal distribution; INIT is billed.
* A function may add at most 1,000 new environments per 10 seconds; beyond that the
  invocation waits (as Lambda's retries of a throttled asynchronous/ESM invocation do).
* The 900 s limit: an invocation body gets ``deadline = start + timeout`` and must stop by
  then; one that runs past it is counted in ``timeouts`` (the simulated agents never do).
* Recursive loop detection: a message carries how many Lambda hops made it; when
  ``loop_detection`` is on, Lambda stops the chain at ``max_hops`` (16) and drops the
  message (``loop_stops``). spoolwatch's template sets ``RecursiveLoop: Allow``.
* :class:`AgentQueueTrigger` is the SQS event source mapping of the agent queue: five
  concurrent invocations when messages appear, 300 more per minute (5 per second) while
  messages wait, capped by ``MaximumConcurrency``, back to five after a quiet minute; idle
  pollers long-poll the empty queue (billed requests). A message (:class:`AgentMessage`)
  carries its hop count and whether its recruiter saw records itself (``seen``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from spoolwatch.sim.world import World

__all__ = ["AgentMessage", "AgentQueueTrigger", "LambdaFunction"]

Body = Callable[[float], Generator[simpy.Event, Any, Any]]

NEW_ENVIRONMENTS_PER_10S = 1000
ESM_START = 5
ESM_STEP_PER_SECOND = 5.0  # 300 per minute
IDLE_POLLERS = 5
LONG_POLL_SECONDS = 20.0


class LambdaFunction:
    """One function: runs bodies as invocations and bills them."""

    def __init__(self, world: World, *, timeout: float = 900.0, keep_warm: float = 600.0):
        self.world = world
        self.timeout = timeout
        self.keep_warm = keep_warm
        self.idle: list[float] = []  # times environments became idle
        self.created: deque[float] = deque()
        self.running = 0
        self.cold_starts = 0
        self.invocations = 0
        self.timeouts = 0

    def _warm(self) -> bool:
        """Take an idle environment that is still warm, if there is one."""
        now = self.world.env.now
        while self.idle:
            if now - self.idle.pop() <= self.keep_warm:
                return True
        return False

    def _admit_new(self) -> Generator[simpy.Event, Any, None]:
        """Wait until the function may add a new environment (1,000 per 10 s)."""
        env = self.world.env
        while True:
            while self.created and self.created[0] <= env.now - 10.0:
                self.created.popleft()
            if len(self.created) < NEW_ENVIRONMENTS_PER_10S:
                break
            yield env.timeout(self.created[0] + 10.0 - env.now + 1e-6)
        self.created.append(env.now)
        self.cold_starts += 1

    def invoke(self, body: Body, *, agent: bool = True) -> simpy.Process:
        """Start one invocation of ``body(deadline)``; returns its simpy process.

        ``agent=False``: an invocation that drains nothing (a schedule's look at the
        backlog) is billed but not counted among the running agents."""
        return self.world.env.process(self._run(body, agent))

    def _run(self, body: Body, agent: bool = True) -> Generator[simpy.Event, Any, Any]:
        env = self.world.env
        self.invocations += 1
        cold = not self._warm()
        if cold:
            # waiting for the scaling limit is neither billed nor a running agent
            yield from self._admit_new()
        self.running += 1
        if agent:
            self.world.agent_started()
        began = env.now
        try:
            if cold:
                yield env.timeout(self.world.cold_start_seconds())  # INIT, billed
            start = env.now
            result = yield env.process(body(start + self.timeout))
            if env.now - start > self.timeout:
                self.timeouts += 1
        finally:
            self.running -= 1
            if agent:
                self.world.agent_stopped()
            self.world.ledger.lambda_run(env.now - began, self.world.params.lambda_memory_gb)
            self.idle.append(env.now)
        return result


@dataclass(frozen=True, slots=True)
class AgentMessage:
    """One agent-queue message: the chain of invocations that made it (``hops``) and
    whether its recruiter saw records itself (``seen``: a full read, a wake batch)."""

    hops: int
    seen: bool = False


class AgentQueueTrigger:
    """The agent queue and its Lambda trigger: each message starts one invocation."""

    def __init__(
        self,
        world: World,
        function: LambdaFunction,
        handler: Callable[[AgentMessage], Body],
        *,
        max_concurrency: int,
        loop_detection: bool,
        max_hops: int = 16,
    ) -> None:
        self.world = world
        self.function = function
        self.handler = handler
        self.max_concurrency = max_concurrency
        self.loop_detection = loop_detection
        self.max_hops = max_hops
        self.messages: deque[AgentMessage] = deque()
        self.active = 0
        self.allowance = float(ESM_START)
        self.loop_stops = 0
        self.posted = 0
        self._wake = world.env.event()
        world.env.process(self._poll())

    @property
    def pending(self) -> int:
        """Messages waiting in the agent queue (recruits requested, not yet started)."""
        return len(self.messages)

    def post(self, count: int, hops: int, *, seen: bool = False) -> None:
        """Send ``count`` messages that were caused by a chain of ``hops`` invocations."""
        if count <= 0:
            return
        self.messages.extend([AgentMessage(hops, seen)] * count)
        self.posted += count
        self.world.ledger.sqs_call(calls=math.ceil(count / 10))
        if not self._wake.triggered:
            self._wake.succeed()

    def _poll(self) -> Generator[simpy.Event, Any, None]:
        env = self.world.env
        quiet_since = env.now
        while True:
            if not self.messages:
                idle_from = env.now
                self._wake = env.event()
                yield self._wake
                idle = env.now - idle_from
                self.world.ledger.sqs_call(calls=math.ceil(idle / LONG_POLL_SECONDS) * IDLE_POLLERS)
                if env.now - quiet_since > 60.0:
                    self.allowance = float(ESM_START)
            quiet_since = env.now
            limit = min(self.max_concurrency, int(self.allowance))
            while self.messages and self.active < limit:
                message = self.messages.popleft()
                self.world.ledger.sqs_call(calls=2)  # the poller's receive and delete
                if self.loop_detection and message.hops >= self.max_hops:
                    self.loop_stops += 1
                    continue
                self.active += 1
                env.process(self._invoke(message))
            if self.messages:
                self.allowance = min(
                    float(self.max_concurrency), self.allowance + ESM_STEP_PER_SECOND
                )
            yield env.timeout(1.0)

    def _invoke(self, message: AgentMessage) -> Generator[simpy.Event, Any, None]:
        try:
            yield self.function.invoke(self.handler(message))
        finally:
            self.active -= 1
