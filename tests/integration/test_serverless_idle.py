"""A Lambda agent keeps reading through a pause shorter than SPOOLWATCH_IDLE_SECONDS."""

from __future__ import annotations

import threading
import time

import pytest

from spoolwatch.serverless.aws import RecruitMessage
from spoolwatch.serverless.worker import SessionOutcome
from tests.integration.lambda_harness import FakeContext, monotonic_deadline
from tests.integration.test_serverless_e2e import Stack, stack  # noqa: F401

pytestmark = pytest.mark.aws


def _session(
    stack: Stack,  # noqa: F811
    idle: str,
) -> tuple[threading.Thread, list[SessionOutcome]]:
    worker = stack.worker(SPOOLWATCH_IDLE_SECONDS=idle, SPOOLWATCH_TARGET_CONCURRENCY="1")
    outcomes: list[SessionOutcome] = []
    context = FakeContext("agent-1", monotonic_deadline(30.0))
    thread = threading.Thread(
        target=lambda: outcomes.append(worker.on_recruit(RecruitMessage("recruit"), context))
    )
    thread.start()
    return thread, outcomes


def test_agent_waits_out_a_pause_shorter_than_the_idle_time(stack: Stack) -> None:  # noqa: F811
    first = stack.fill(rows=250)  # 10 records
    thread, outcomes = _session(stack, idle="4")
    time.sleep(1.0)  # a pause in the traffic, shorter than the idle time
    stack.fill(rows=250)  # (its ids as peeked may miss those the agent already has)
    thread.join(timeout=60)
    (outcome,) = outcomes
    assert outcome.result is not None
    assert outcome.result.stopped_by == "empty"
    assert outcome.result.records_sent == 20  # one session took both parts
    delivered = stack.delivered_ids()
    assert len(delivered) == 20 and first <= set(delivered)
    assert stack.backlog() == 0


def test_agent_stops_when_nothing_arrives_within_the_idle_time(stack: Stack) -> None:  # noqa: F811
    first = stack.fill(rows=250)
    thread, outcomes = _session(stack, idle="0.5")
    thread.join(timeout=60)
    stack.fill(rows=250)  # arrives after the session ended: left for the next agent
    (outcome,) = outcomes
    assert outcome.result is not None
    assert (outcome.result.stopped_by, outcome.result.records_sent) == ("empty", 10)
    assert set(stack.delivered_ids()) == first
