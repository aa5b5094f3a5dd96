"""spoolwatch's agent in the simulation, call by call: its serial read, its look-up of
redelivered records, its send, its retries (a destination down, or one answering 429 with
``Retry-After`` when its capacity is used: :mod:`~spoolwatch.sim.destination`).

What :func:`~spoolwatch.sim.model.drain` runs for an agent with a ``read_batch`` (the
``spoolwatch`` policy's Lambda agents, ``static``'s and ``keda``'s pods) and for one with a
``give_up_at`` (the Lambda agents); the wake function's agent uses :func:`skip_known` and
:func:`send_until` too. The approximations are stated in :mod:`spoolwatch.sim.model`'s
docstring.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import simpy

from spoolwatch.agent.config import RetryConfig
from spoolwatch.agent.control import backoff_delay
from spoolwatch.sim.sqs import InFlight
from spoolwatch.sim.world import AgentRun, KnownLookups, World
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.spools.sqs_config import MAX_WAIT

__all__ = [
    "AGENT_RETRY",
    "LONG_POLL_LIMIT",
    "READ_WAIT_SECONDS",
    "RECHECK_SECONDS",
    "KnownLookups",
    "admit",
    "calls_seconds",
    "offer",
    "read_serially",
    "requests_of",
    "send_seconds",
    "send_until",
    "skip_known",
]

#: The real agent's back-off (``retry`` in its config), used by ``drain(give_up_at=...)``.
AGENT_RETRY = RetryConfig()
#: ``batching.wait_seconds``'s default (the pods' agents): how long a read that finds
#: nothing waits before it is empty. Lambda agents read with ``SPOOLWATCH_IDLE_SECONDS``.
READ_WAIT_SECONDS = BatchingConfig().wait_seconds
#: ``SqsConfig.wait_time_seconds``: the longest ``WaitTimeSeconds`` of one receive.
LONG_POLL_LIMIT = MAX_WAIT
#: How often a long-polling reader looks again for records that became visible without
#: arriving (a visibility timeout ran out, a batch was given back); arrivals wake it at once.
RECHECK_SECONDS = 1.0
#: ``SqsSpool.read``: a wait with less than this left ends the read.
_READ_SLACK = 0.05


def calls_seconds(world: World, calls: int) -> float:
    """The time of ``calls`` SQS calls made one after another."""
    median, sigma = world.params.receive_latency_median, world.params.receive_latency_sigma
    return float(world.rng.lognormal(math.log(median), sigma, size=calls).sum())


def requests_of(world: World, count: int) -> int:
    """The HTTP requests that carry ``count`` records (``request_records`` a request)."""
    return math.ceil(count / world.params.request_records)


def send_seconds(world: World, count: int) -> float:
    """One accepted send of ``count`` records: the agent's own work (validate, encode:
    ``agent_throughput``) and one HTTP request (``request_seconds``) per
    ``request_records``."""
    p = world.params
    return count / p.agent_throughput + requests_of(world, count) * p.request_seconds


def admit(world: World, count: int) -> float | None:
    """Offer ``count`` records to the destination now: ``None`` when accepted, else the
    429's ``Retry-After`` seconds."""
    rows = count * world.params.rows_per_record
    return world.destination.admit(float(world.env.now), requests_of(world, count), rows)


def offer(world: World, count: int) -> Generator[simpy.Event, Any, tuple[bool, float | None]]:
    """One attempt to send ``count`` records: ``(accepted, Retry-After)``. A destination that
    is up accepts at once or answers 429 after a request's round trip (its ``Retry-After``
    returned); one that is down fails after ``destination_fail_seconds``, then the records
    are offered once more if it came back meanwhile."""
    p, env = world.params, world.env
    if world.destination_up():
        retry_after = admit(world, count)
        if retry_after is None:
            return True, None
        yield env.timeout(p.request_seconds)
        return False, retry_after
    yield env.timeout(p.destination_fail_seconds)
    if not world.destination_up():
        return False, None
    retry_after = admit(world, count)
    return retry_after is None, retry_after


def read_serially(
    world: World, read_batch: int, wait: float = READ_WAIT_SECONDS
) -> Generator[simpy.Event, Any, tuple[InFlight | None, bool]]:
    """spoolwatch's ``SqsSpool.read(read_batch, wait)``: receives until one returns records,
    or until ``wait`` has passed, then receives of 10, one after another, until
    ``read_batch`` or a receive that returns nothing. ``(None, False)`` when nothing came.

    A receive long-polls whole seconds, ``min(20, floor(remaining + 0.05))``, so a wait of
    20 s is one long poll of 20 s; it ends after the wait, and so does the read (less than
    0.05 s is left): one receive, billed as one request however long it waited. A long poll
    returns at the first arrival (:meth:`SimQueue.wait`), or at a recheck for records
    visible again. With less than 0.95 s left (always for a wait that short) a receive does
    not wait and the read pauses for what is left, at most 1 s, before the next: a wait of
    0.5 s is two receives 0.5 s apart.
    """
    p, env, queue = world.params, world.env, world.queue
    ends = env.now + wait
    empty = 0  # receives that returned nothing
    batch = queue.receive(read_batch, p.visibility_seconds)
    while batch is None:
        poll = min(LONG_POLL_LIMIT, max(0, math.floor(ends - env.now + _READ_SLACK)))
        if poll:
            batch = yield from _long_poll(world, read_batch, env.now + poll)
            if batch is not None:
                break  # this receive returned the first records: billed with them
        empty += 1
        yield env.timeout(calls_seconds(world, 1))
        remaining = ends - env.now
        if remaining <= _READ_SLACK:
            world.ledger.sqs_call(calls=empty)
            return None, False
        if not poll:
            yield env.timeout(min(remaining, 1.0))
        batch = queue.receive(read_batch, p.visibility_seconds)
    world.ledger.sqs_call(calls=empty)
    if world.crashes_due:
        batch.extra["crash"] = True
    # a short read ends with one receive that returned nothing
    calls = math.ceil(batch.count / 10) + (batch.count < read_batch)
    world.ledger.sqs_call(records=batch.count, calls=calls)
    yield env.timeout(calls_seconds(world, calls))
    return batch, False


def skip_known(world: World, batch: InFlight) -> Generator[simpy.Event, Any, InFlight | None]:
    """The look-up before a send: when some records of ``batch`` were received before
    (SQS's ``ApproximateReceiveCount`` > 1), one HTTP call asks the destination which of
    them it already accepted; those are deleted without a send (DeleteMessageBatch, 10 a
    call, one call after another) and counted in ``world.known``. Returns what is left to
    send: ``batch`` (less what was deleted), or ``None`` when nothing is. A destination that
    is down fails the call after ``destination_fail_seconds`` and everything is sent."""
    if batch.receives <= 1:
        return batch
    env, known = world.env, world.known
    known.calls += 1
    if not world.destination_up():
        yield env.timeout(world.params.destination_fail_seconds)
        known.failed += 1
        return batch
    yield env.timeout(world.params.request_seconds)
    accepted = world.queue.split_known(batch)
    if accepted is None:
        return batch
    deletes = math.ceil(accepted.count / 10)
    yield env.timeout(calls_seconds(world, deletes))
    world.queue.delete(accepted)
    world.ledger.sqs_call(calls=deletes)
    known.skipped += accepted.count
    world.check_drained()
    return None if accepted is batch else batch


def _long_poll(
    world: World, read_batch: int, ends: float
) -> Generator[simpy.Event, Any, InFlight | None]:
    """One long-poll receive until ``ends``: the records taken when some are visible."""
    env, queue = world.env, world.queue
    while env.now < ends:
        arrived = queue.wait()
        yield arrived | env.timeout(min(RECHECK_SECONDS, ends - env.now))
        if not arrived.triggered:
            queue.stop_waiting(arrived)
        batch = queue.receive(read_batch, world.params.visibility_seconds)
        if batch is not None:
            return batch
    return None


def send_until(
    world: World,
    agent: AgentRun,
    batch: InFlight,
    give_up_at: Callable[[], float],
    *,
    release: bool = True,
) -> Generator[simpy.Event, Any, bool]:
    """Send ``batch`` as the real agent does (see the module docstring); ``False`` when it
    was given back. ``True`` once the destination is up and accepted the batch (the caller
    then spends :func:`send_seconds`). A 429 costs one request's round trip and its
    ``Retry-After`` is a floor under the back-off (``backoff_delay``). ``release=False``:
    given back as the wake function's spool does, left in flight until its (last
    extended) visibility timeout."""
    env, retry = world.env, AGENT_RETRY
    attempt = 0
    calls = math.ceil(batch.count / 10)
    while True:
        accepted, retry_after = yield from offer(world, batch.count)
        if accepted:
            return True
        attempt += 1
        if retry_after is not None:
            agent.throttled += 1
        delay = backoff_delay(attempt, retry, retry_after, world.rng)
        if env.now + delay >= give_up_at():
            break
        world.queue.extend(batch, delay + 30.0)
        world.ledger.sqs_call(calls=calls)
        end = env.now + delay
        # the reader re-checks its give-up point while it waits: a stop during the wait
        # gives the batch back once the stop's grace is over
        while env.now < min(end, give_up_at()):
            waits: list[simpy.Event] = [env.timeout(min(end, give_up_at()) - env.now)]
            if agent.stopping is not None and not agent.stopping.triggered:
                waits.append(agent.stopping)
            yield env.any_of(waits)
        if env.now >= give_up_at():
            break
    if release:
        world.queue.release(batch)  # nack(pending): visible again at once
        world.ledger.sqs_call(calls=calls)
    return False
