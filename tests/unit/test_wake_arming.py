"""When the Lambda agents arm and disarm the data queue's wake trigger."""

from __future__ import annotations

from spoolwatch.agent.loop import AgentResult
from spoolwatch.scaling.wake import MemoryWakeSwitch
from spoolwatch.serverless.aws import RecruitMessage
from tests.unit.test_serverless_worker import FakeContext, FakeQueues, make_worker


def test_last_agent_stopped_by_its_deadline_without_a_hand_off_arms_the_wake_trigger() -> None:
    # The deadline came while the read waited on an empty queue: no hand-off, nobody runs,
    # so records arriving next would otherwise wait for the schedule.
    queues = FakeQueues(visible=0)
    worker, _ = make_worker(
        queues, result=AgentResult(records_sent=3, stopped_by="deadline"), target=1
    )
    switch = MemoryWakeSwitch()
    worker.wake = switch
    outcome = worker.on_recruit(RecruitMessage("wake", seen=True), FakeContext())
    assert outcome.ran and not outcome.handed_off
    assert switch.calls == [("disarm", "agents_running"), ("arm", "fleet_idle")]
    assert switch.armed


def test_agent_that_handed_off_at_its_deadline_leaves_the_wake_trigger_off() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(
        queues, result=AgentResult(records_sent=3, stopped_by="deadline"), drain=False, target=1
    )
    switch = MemoryWakeSwitch()
    worker.wake = switch
    outcome = worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert outcome.handed_off
    assert switch.calls == [("disarm", "agents_running")]


def test_schedule_disarms_a_wake_trigger_left_armed_while_an_agent_runs() -> None:
    # The last agent armed it just as a new one took a slot (whose disarm found the flag
    # already off): the schedule puts it right within one period.
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues)
    switch = MemoryWakeSwitch(armed=True)
    worker.wake = switch
    held = worker.leases.acquire("running-agent")
    assert held is not None
    worker.on_schedule()
    assert not switch.armed and not switch.enabled
    assert switch.calls == [("disarm", "agents_running")]
