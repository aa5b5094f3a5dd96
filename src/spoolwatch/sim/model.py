"""The simulated world: parameters, the simulation clock, agents draining the queue.

One :class:`World` per run holds the simpy environment, the data queue
(:class:`~spoolwatch.sim.sqs.SimQueue`), the cost ledger, the destination's faults and the
figures every policy is measured by (agents over time, agent-seconds).

How an agent drains (:func:`drain`), the approximations stated:

* spoolwatch's agent (``read_batch``: the ``spoolwatch`` policy's Lambda agents with 100,
  ``static``'s and ``keda``'s pods with the agent config's default 500) works its serial
  cycle (:mod:`~spoolwatch.sim.agent_cycle`): receives of 10 messages one after another
  until ``read_batch`` (or one returns nothing), one HTTP request of ``request_seconds``
  per ``request_records`` records plus its own work at ``agent_throughput`` records/s
  (the measured figures, :mod:`~spoolwatch.sim.measured`: about 12 ms a request of 73
  records, 2,600 records/s; the easy set: 50 ms, 100, 3,000), then deletes of 10 one after
  another; each SQS call takes a log-normal latency (median 20 ms). That is about 0.5 s
  per 100 records, about 200 records/s per agent (easy: 0.54 s, 186/s), whatever the read
  batch: the SQS calls dominate. A read that finds
  nothing waits (:func:`~spoolwatch.sim.agent_cycle.read_serially`): a pod's
  ``batching.wait_seconds``, 0.5 s (no long poll: two receives 0.5 s apart); a Lambda
  agent's ``read_wait``, ``SPOOLWATCH_IDLE_SECONDS`` (20 s: a long poll that returns at
  the first arrival, or at a recheck each second for records visible again). Still
  nothing: a Lambda agent's run ends (``empty``, or the stop or the deadline that came
  meanwhile), a pod reads again.
* Before its send, spoolwatch's agent looks up the records of the read that were received
  before (:func:`~spoolwatch.sim.agent_cycle.skip_known`; a cohort's receive count above
  1 is SQS's ``ApproximateReceiveCount`` > 1): when there are any, one HTTP call of
  ``request_seconds`` (a send's round trip without its work per record) asks the
  destination — the spoolwatch service, which answers it; a DataRobot destination cannot
  be asked — which of them it already accepted. The answer is exact (the cohorts the
  destination accepted, ``SENT``): those are deleted (10 a call, one call after another)
  without a send and counted in ``known_skipped``, not as duplicates; the rest are sent.
  A read without such records makes no call. While the destination is down the call fails
  after ``destination_fail_seconds`` and the whole read is sent (and fails as any send).
  The other policies' agents (the recipe's, Lambda's trigger) do not look up.
* Other agents (the recipe's) work in steps of one read batch: at most 500 records and at
  most ``min(agent_throughput, receivers x 10 / latency) x step_seconds``; a step lasts the
  batch's size divided by that rate: ``receivers`` concurrent receive loops with a receive
  latency drawn per step. Their records are received, sent, then deleted (one request per
  10 records each way, deletes taking no time). Finding the queue empty they long-poll
  (``empty_wait_seconds`` for agents that stop when the queue is empty, 20 s otherwise),
  billed as one receive per receive loop.
* A send to a destination that is down fails after ``destination_fail_seconds``; the
  agent retries with back-off while extending the visibility timeout, and gives up after
  ``send_attempts`` (the recipe's agents) or never (always-on agents). spoolwatch's own
  Lambda agent (``give_up_at``) retries as :mod:`spoolwatch.agent.channel` does: back-off
  from :class:`~spoolwatch.agent.config.RetryConfig` (0.5 s doubling to 30 s, ±25 %
  jitter), the visibility extended by the delay + 30 s before each wait, until the next
  wait would pass its give-up point, or that point passes during a wait (a stop, signalled
  by :meth:`AgentRun.request_stop`, moves it to the stop's grace); then the records are
  given back (visible again at once) and the run ends ``failed``.
* A destination with a capacity (:mod:`~spoolwatch.sim.destination`) answers a send
  beyond it with 429 after one request's round trip: every agent retries it as it retries
  a destination that is down, ``Retry-After`` a floor under its back-off, its records kept.
* A crash (fault) hits the next agent to send after the crash time, right after a
  successful send of one read batch and before its delete: those records come back after
  the visibility timeout; agents that do not look up send them again (duplicates),
  spoolwatch's agent deletes them unsent once the destination says it has them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import simpy

from spoolwatch.sim.agent_cycle import (
    READ_WAIT_SECONDS,
    calls_seconds,
    offer,
    read_serially,
    send_seconds,
    send_until,
    skip_known,
)
from spoolwatch.sim.sqs import InFlight
from spoolwatch.sim.world import AgentRun, World

__all__ = ["AGENT_READ_BATCH", "drain"]

LONG_POLL_SECONDS = 20.0

#: Records an agent reads and acks together (``batching.max_records`` of the agent config):
#: what a crash between send and delete leaves to be delivered twice.
AGENT_READ_BATCH = 500


StepHook = Callable[[AgentRun], Generator[simpy.Event, Any, None]]


def drain(
    world: World,
    agent: AgentRun,
    *,
    deadline: float | None,
    until_empty: bool,
    retry_forever: bool = False,
    on_step: StepHook | None = None,
    give_up_at: Callable[[], float] | None = None,
    read_batch: int | None = None,
    read_wait: float = READ_WAIT_SECONDS,
) -> Generator[simpy.Event, Any, str]:
    """Run ``agent`` until empty/deadline/stop/failure/crash; returns which one.

    ``deadline``: no read starts after it. Without ``give_up_at``, on ``failed`` the batch
    in hand stays in flight until its visibility timeout. With ``give_up_at`` (the time
    after which the batch in hand is given up, asked again before every retry and when
    ``agent.stopping`` fires during a wait) sends retry as the real agent's do and a failed
    batch is given back at once. With ``read_batch`` the agent works spoolwatch's serial
    cycle (:mod:`~spoolwatch.sim.agent_cycle`) with batches of that many records, a read
    waiting up to ``read_wait`` for its first record; without it, the parallel receive
    loops of the module docstring. A read that returned nothing ends an ``until_empty`` run
    as the real agent's does: ``stopped`` or ``deadline`` when that came during the read
    (``control.reason`` wins), else ``empty``.
    """
    world.agents.append(agent)
    if agent.stopping is None:
        agent.stopping = world.env.event()
    try:
        while True:
            if agent.stop:
                return "stopped"
            if deadline is not None and world.env.now >= deadline:
                return "deadline"
            if read_batch is None:
                batch, woken = yield from _receive(world, deadline, until_empty)
            else:
                agent.reading_since = float(world.env.now)
                try:
                    batch, woken = yield from read_serially(world, read_batch, read_wait)
                finally:
                    agent.reading_since = None
            agent.last_read = 0 if batch is None else batch.count
            if batch is None:
                if until_empty and not woken:
                    return _why_empty(world, agent, deadline)
                continue
            if read_batch is not None:
                batch = yield from skip_known(world, batch)
                if batch is None:
                    continue  # every record was known: deleted, nothing to send
            if give_up_at is None:
                sent = yield from _send(world, batch, retry_forever)
            else:
                sent = yield from send_until(world, agent, batch, give_up_at)
            if not sent:
                return "failed"
            if read_batch is not None:
                yield world.env.timeout(send_seconds(world, batch.count))
            world.queue.mark_sent(batch)
            if batch.extra.get("crash") and world.take_crash():
                return "crashed"
            deletes = math.ceil(batch.count / 10)
            if read_batch is not None:
                # DeleteMessageBatch, 10 entries a call, one call after another
                yield world.env.timeout(calls_seconds(world, deletes))
            world.queue.delete(batch)
            world.ledger.sqs_call(calls=deletes)
            world.check_drained()
            agent.processed += batch.count
            if on_step is not None:
                yield from on_step(agent)
    finally:
        world.agents.remove(agent)


def _why_empty(world: World, agent: AgentRun, deadline: float | None) -> str:
    """Why a run that read nothing ends: a stop or the deadline that came during the read
    is its reason (the real ``AgentResult.stopped_by``), else the queue read empty."""
    if agent.stop:
        return "stopped"
    if deadline is not None and world.env.now >= deadline:
        return "deadline"
    return "empty"


def _receive(
    world: World, deadline: float | None, until_empty: bool
) -> Generator[simpy.Event, Any, tuple[InFlight | None, bool]]:
    """One step's receive and processing time; ``(None, woken)`` after a long poll."""
    p, env, queue = world.params, world.env, world.queue
    latency = world.receive_latency()
    rate = min(p.agent_throughput, p.receivers * 10.0 / latency)
    step = p.step_seconds if deadline is None else max(0.0, min(p.step_seconds, deadline - env.now))
    # one read batch at a time, as the agent reads (and so holds in flight) at most that many
    want = max(10, min(int(rate * step), AGENT_READ_BATCH))
    batch = queue.receive(want, p.visibility_seconds)
    if batch is not None and world.crashes_due:
        batch.extra["crash"] = True
    if batch is None:
        world.ledger.sqs_call(calls=p.receivers)
        wait = p.empty_wait_seconds if until_empty else LONG_POLL_SECONDS
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - env.now))
        arrived = queue.wait()
        yield arrived | env.timeout(wait)
        if not arrived.triggered:
            queue.stop_waiting(arrived)
            return None, False
        return None, True
    world.ledger.sqs_call(records=batch.count, calls=math.ceil(batch.count / 10))
    yield env.timeout(max(latency, batch.count / rate))
    return batch, False


def _send(world: World, batch: InFlight, retry_forever: bool) -> Generator[simpy.Event, Any, bool]:
    """Send ``batch``; retry with back-off while the destination is down or answers 429
    (its ``Retry-After`` a floor under the back-off)."""
    p, env = world.params, world.env
    attempts = 0
    while True:
        accepted, retry_after = yield from offer(world, batch.count)
        if accepted:
            return True
        attempts += 1
        if not retry_forever and attempts >= p.send_attempts:
            return False
        world.queue.extend(batch, p.visibility_seconds)
        world.ledger.sqs_call()
        yield env.timeout(max(min(30.0, 2.0**attempts), retry_after or 0.0))
