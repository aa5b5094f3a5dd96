"""``lambda-esm``: Lambda's own SQS trigger (event source mapping) on the data queue.

As AWS documents it: when messages appear, five concurrent invocations; while messages
remain, up to 300 more per minute (5 per second); never above ``MaximumConcurrency`` (here
the run's ``concurrency``, at most 1,000); back to five after a quiet minute. When
invocations fail, Lambda "gradually backs off, reducing the concurrency allocated"; the
failed batch stays in flight until the visibility timeout and is received again (and after
``maxReceiveCount`` receives goes to the dead-letter queue).

Modelled as a fluid process in 1 s ticks, not per invocation:

* one invocation takes ``invoke_overhead + send_latency + batch_size / agent_throughput``
  (one destination call per batch of ``batch_size`` = 10, the trigger's default) or
  ``invoke_overhead + destination_fail_seconds`` when the destination is down;
* a tick runs ``allowance x 1 s / invocation time`` invocations at most, each on one batch;
  the concurrency used is what those invocations occupy; environments beyond the warm ones
  (kept ten minutes) are cold starts, billed;
* a destination with a capacity (:mod:`~spoolwatch.sim.destination`) accepts a tick's
  invocations one batch after another until one is answered 429; those refused fail (their
  records stay in flight until the visibility timeout, as a failed batch's do);
* on a tick with failures the allowance shrinks by a quarter (not below two);
* the function timeout is 30 s and the queue's visibility timeout 180 s (AWS asks for six
  times the function timeout); the pollers' receives and deletes are billed, and five idle
  pollers long-poll an empty queue.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from spoolwatch.sim.agent_cycle import admit
from spoolwatch.sim.policies.base import Policy

__all__ = ["LambdaEsmPolicy"]

START = 5.0
STEP_PER_SECOND = 5.0
FLOOR = 2.0
IDLE_POLLERS = 5
TICK = 1.0


class LambdaEsmPolicy(Policy):
    """Lambda's SQS event source mapping on the data queue."""

    name = "lambda-esm"
    summary = "Lambda's SQS trigger (5 at start, +300/min, MaximumConcurrency)"

    batch_size = 10
    invoke_overhead = 0.015
    send_latency = 0.050
    visibility_seconds = 180.0
    keep_warm = 600.0

    def start(self) -> None:
        """Start the pollers."""
        self.allowance = START
        self.concurrency_peak = 0
        self.backoffs = 0
        self._used = 0
        self._warm: deque[tuple[float, int]] = deque()
        self.world.env.process(self._poll())

    def figures(self) -> dict[str, float | int | str | None]:
        """How often the trigger backed off."""
        return {"backoff_ticks": self.backoffs}

    def _poll(self) -> Generator[simpy.Event, Any, None]:
        world = self.world
        env = world.env
        quiet_since = 0.0
        idle_polls = 0.0
        while True:
            world.queue.expire()
            if world.queue.visible_count == 0:
                self._use(0)
                idle_polls += IDLE_POLLERS * TICK / 20.0
                if idle_polls >= 1:
                    world.ledger.sqs_call(calls=int(idle_polls))
                    idle_polls -= int(idle_polls)
                if env.now - quiet_since > 60.0:
                    self.allowance = START
                yield env.timeout(TICK)
                continue
            quiet_since = env.now
            yield from self._tick()

    def _tick(self) -> Generator[simpy.Event, Any, None]:
        world = self.world
        p = world.params
        up = world.destination_up()
        seconds = self.invoke_overhead + (
            self.send_latency + self.batch_size / p.agent_throughput
            if up
            else p.destination_fail_seconds
        )
        limit = min(float(p.concurrency), self.allowance)
        invocations = max(1, int(limit * TICK / seconds))
        crashed = (
            world.queue.receive(self.batch_size, self.visibility_seconds)
            if (up and world.crashes_due)
            else None
        )
        # at any instant the trigger holds concurrency x batch_size <= 10,000 records, far
        # below the in-flight limit, though a tick receives many batches one after another
        want = invocations * self.batch_size
        accepted = want if up else 0
        if up and world.destination.capacity.limited:
            want = min(want, world.queue.visible_count)
            accepted = 0
            while accepted < want and admit(world, min(self.batch_size, want - accepted)) is None:
                accepted += self.batch_size
            accepted = min(accepted, want)
        take = accepted if up else want
        batch = (
            world.queue.receive(take, self.visibility_seconds, check_limit=False) if take else None
        )
        refused = (
            world.queue.receive(want - accepted, self.visibility_seconds, check_limit=False)
            if up and want > accepted
            else None
        )
        received = (batch.count if batch is not None else 0) + (
            refused.count if refused is not None else 0
        )
        invocations = math.ceil(received / self.batch_size) + (crashed is not None)
        used = min(math.ceil(limit), max(1, math.ceil(invocations * seconds / TICK)))
        self._use(used)
        self._bill(invocations, seconds, used)
        world.ledger.sqs_call(records=received, calls=invocations)
        yield world.env.timeout(TICK)
        if crashed is not None and world.take_crash():
            world.queue.mark_sent(crashed)
        if batch is None and refused is None:
            return
        if up and batch is not None:
            world.queue.mark_sent(batch)
            world.queue.delete(batch)
            deletes = invocations if refused is None else math.ceil(batch.count / self.batch_size)
            world.ledger.sqs_call(calls=deletes)
            world.check_drained()
        if up and refused is None:
            self.allowance = min(float(p.concurrency), self.allowance + STEP_PER_SECOND)
        else:
            self.backoffs += 1
            self.allowance = max(FLOOR, self.allowance * 0.75)

    def _use(self, used: int) -> None:
        if used != self._used:
            if used > self._used:
                self.world.agent_started(used - self._used)
            else:
                self.world.agent_stopped(self._used - used)
            self._used = used

    def _bill(self, invocations: int, seconds: float, used: int) -> None:
        world = self.world
        now = world.env.now
        # environments used within the last keep_warm seconds: a sliding-window maximum
        while self._warm and self._warm[0][0] < now - self.keep_warm:
            self._warm.popleft()
        warm = self._warm[0][1] if self._warm else 0
        while self._warm and self._warm[-1][1] <= used:
            self._warm.pop()
        self._warm.append((now, used))
        memory = world.params.lambda_memory_gb
        for _ in range(max(0, used - warm)):
            world.ledger.lambda_gb_seconds += world.cold_start_seconds() * memory
        if invocations:
            world.ledger.lambda_run(seconds, memory, invocations)
