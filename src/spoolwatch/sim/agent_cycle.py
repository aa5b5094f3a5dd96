"""spoolwatch's agent in the simulation, call by call: its serial read, its send, its retries.

What :func:`~spoolwatch.sim.model.drain` runs for an agent with a ``read_batch`` (the
``spoolwatch`` policy's Lambda agents, ``static``'s and ``keda``'s pods) and for one with a
``give_up_at`` (the Lambda agents); the approximations are stated in
:mod:`spoolwatch.sim.model`'s docstring.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from spoolwatch.agent.config import RetryConfig
from spoolwatch.sim.sqs import InFlight

if TYPE_CHECKING:
    from spoolwatch.sim.model import AgentRun, World

__all__ = [
    "AGENT_RETRY",
    "READ_WAIT_SECONDS",
    "REQUEST_RECORDS",
    "SEND_SECONDS",
    "calls_seconds",
    "read_serially",
    "send_seconds",
    "send_until",
]

#: The real agent's back-off (``retry`` in its config), used by ``drain(give_up_at=...)``.
AGENT_RETRY = RetryConfig()

#: One HTTP request to the destination (up to ``REQUEST_RECORDS`` records), within a region.
SEND_SECONDS = 0.050
#: Records per request (``batching.max_records_per_request`` of the agent config).
REQUEST_RECORDS = 100
#: ``batching.wait_seconds``: how long a read that finds nothing waits before it is empty.
READ_WAIT_SECONDS = 0.5


def calls_seconds(world: World, calls: int) -> float:
    """The time of ``calls`` SQS calls made one after another."""
    median, sigma = world.params.receive_latency_median, world.params.receive_latency_sigma
    return float(world.rng.lognormal(math.log(median), sigma, size=calls).sum())


def send_seconds(world: World, count: int) -> float:
    """One accepted send of ``count`` records: the agent's own work (validate, encode:
    ``agent_throughput``) and one HTTP request per ``REQUEST_RECORDS``."""
    return count / world.params.agent_throughput + math.ceil(count / REQUEST_RECORDS) * (
        SEND_SECONDS
    )


def read_serially(
    world: World, read_batch: int
) -> Generator[simpy.Event, Any, tuple[InFlight | None, bool]]:
    """spoolwatch's ``SqsSpool.read(read_batch, wait=0.5)``: receives of 10, one after
    another, until ``read_batch`` or a receive that returns nothing; a first receive that
    returns nothing waits out the rest of ``READ_WAIT_SECONDS`` (whole-second long polls
    round it to 0) and receives once more. ``(None, False)`` when both found nothing."""
    p, env, queue = world.params, world.env, world.queue
    batch = queue.receive(read_batch, p.visibility_seconds)
    if batch is None:
        first = calls_seconds(world, 1)
        world.ledger.sqs_call()
        yield env.timeout(max(first, READ_WAIT_SECONDS))
        batch = queue.receive(read_batch, p.visibility_seconds)
        if batch is None:
            world.ledger.sqs_call()
            yield env.timeout(calls_seconds(world, 1))
            return None, False
    if world.crashes_due:
        batch.extra["crash"] = True
    # a short read ends with one receive that returned nothing
    calls = math.ceil(batch.count / 10) + (batch.count < read_batch)
    world.ledger.sqs_call(records=batch.count, calls=calls)
    yield env.timeout(calls_seconds(world, calls))
    return batch, False


def send_until(
    world: World,
    agent: AgentRun,
    batch: InFlight,
    give_up_at: Callable[[], float],
    *,
    release: bool = True,
) -> Generator[simpy.Event, Any, bool]:
    """Send ``batch`` as the real agent does (see the module docstring); ``False`` when it
    was given back. ``release=False``: given back as the wake function's spool does, left
    in flight until its (last extended) visibility timeout."""
    p, env, retry = world.params, world.env, AGENT_RETRY
    attempt = 0
    calls = math.ceil(batch.count / 10)
    while not world.destination_up():
        yield env.timeout(p.destination_fail_seconds)
        if world.destination_up():
            return True
        attempt += 1
        base = min(retry.max_seconds, retry.initial_seconds * retry.multiplier ** (attempt - 1))
        delay = base * (1.0 + float(world.rng.uniform(-retry.jitter, retry.jitter)))
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
    else:
        return True
    if release:
        world.queue.release(batch)  # nack(pending): visible again at once
        world.ledger.sqs_call(calls=calls)
    return False
