"""The Lambda worker's decisions, with in-memory leases and breaker and fake queues."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from spoolwatch.agent.config import AgentConfig, ChannelConfig
from spoolwatch.agent.loop import AgentResult
from spoolwatch.errors import ConfigError, TransientError
from spoolwatch.scaling import (
    BreakerState,
    CircuitBreaker,
    FailureKind,
    LeaseTable,
    ManualClock,
    MemoryBreakerStore,
    MemoryLeaseStore,
    ScalingSettings,
)
from spoolwatch.scaling.ceiling import CEILING_SECONDS, LearnedCeiling, MemoryCeilingStore
from spoolwatch.scaling.wake import MemoryWakeSwitch
from spoolwatch.serverless.aws import RecruitMessage
from spoolwatch.serverless.destination import DestinationProblem
from spoolwatch.serverless.settings import ServerlessSettings
from spoolwatch.serverless.setup import build_agent_config
from spoolwatch.serverless.worker import ServerlessAgent
from spoolwatch.sinks.config import TargetConfig

BASE_ENV = {
    "SPOOLWATCH_DATA_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/data",
    "SPOOLWATCH_AGENT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/agent",
    "SPOOLWATCH_STATE_TABLE": "state",
    "SPOOLWATCH_DESTINATION_URL": "http://127.0.0.1:8080",
}


@dataclass
class FakeQueues:
    visible: int = 0
    in_flight: int = 0
    pending: int = 0
    posted: list[RecruitMessage] = field(default_factory=list)

    def data_backlog(self) -> tuple[int, int]:
        return self.visible, self.in_flight

    def pending_recruits(self) -> int:
        return self.pending

    def recruit(self, count: int, message: RecruitMessage) -> int:
        self.posted.extend([message] * count)
        self.pending += count  # waiting in the agent queue until an invocation takes them
        return count


@dataclass
class FakeContext:
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


class FakeAgent:
    """Accepts its first records at once, runs a moment, then drains (or not)."""

    def __init__(self, result: AgentResult, queues: FakeQueues, drain: bool) -> None:
        from spoolwatch.agent.stats import ChannelStats

        self.result = result
        self.queues = queues
        self.drain = drain
        self.stats = {"sqs": ChannelStats("sqs")}

    def run(self, **_: Any) -> AgentResult:
        import time

        self.stats["sqs"].add(sent=self.result.records_sent)
        time.sleep(0.5)
        if self.drain:
            self.queues.visible = 0
        return self.result

    def stop(self, reason: str = "") -> None:
        return None


def make_worker(
    queues: FakeQueues,
    *,
    result: AgentResult | None = None,
    drain: bool = True,
    problem: DestinationProblem | None = None,
    target: int = 3,
) -> tuple[ServerlessAgent, ManualClock]:
    clock = ManualClock()
    scaling = ScalingSettings(
        target_concurrency=target,
        records_per_agent=10,
        failure_threshold=2,
        base_cooldown_seconds=30,
    )
    settings = ServerlessSettings.from_env(
        {
            **BASE_ENV,
            "SPOOLWATCH_TARGET_CONCURRENCY": str(target),
            "SPOOLWATCH_RECORDS_PER_AGENT": "10",
        }
    )
    settings = ServerlessSettings(
        data_queue_url=settings.data_queue_url,
        agent_queue_url=settings.agent_queue_url,
        state_table="state",
        scaling=scaling,
        destination_url=settings.destination_url,
        deadline_margin_seconds=5,
    )
    outcome = result or AgentResult(records_sent=5, stopped_by="empty")
    worker = ServerlessAgent(
        settings,
        queues=queues,  # type: ignore[arg-type]
        leases=LeaseTable(MemoryLeaseStore(), slots=target, lease_seconds=60, clock=clock),
        breaker=CircuitBreaker(MemoryBreakerStore(), scaling, clock),
        agent_config=build_agent_config(settings, config_text=None, token="t"),
        clock=clock,
        agent_factory=lambda config: FakeAgent(outcome, queues, drain),  # type: ignore[arg-type,return-value]
        check_destination=lambda target: problem,
    )
    return worker, clock


def test_schedule_with_an_empty_queue_recruits_nobody() -> None:
    queues = FakeQueues()
    worker, _ = make_worker(queues)
    assert worker.handle({"source": "aws.events"}, FakeContext())["recruited"] == 0
    assert queues.posted == []


def test_schedule_counts_waiting_recruits_before_recruiting_more() -> None:
    queues = FakeQueues(visible=25, in_flight=5, pending=1)  # wants ceil(30/10)=3
    worker, _ = make_worker(queues)
    assert worker.on_schedule()["recruited"] == 2
    assert [m.reason for m in queues.posted] == ["recruit", "recruit"]


def test_agent_with_work_claims_a_lease_recruits_runs_and_releases() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues)
    outcome = worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert outcome.ran and outcome.recruited == 2  # 3 wanted, itself running
    assert worker.leases.count_running() == 0
    assert not outcome.handed_off


def test_agent_skips_when_every_lease_slot_is_held() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues, target=1)
    assert worker.leases.acquire("someone-else") is not None
    outcome = worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert not outcome.ran and outcome.why == "no_free_lease_slot"


def test_agent_that_stops_at_the_deadline_with_work_left_hands_off() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(
        queues, result=AgentResult(records_sent=10, stopped_by="deadline"), drain=False
    )
    outcome = worker.on_recruit(RecruitMessage("handoff", hop=4), FakeContext())
    assert outcome.handed_off
    handoff = [m for m in queues.posted if m.reason == "handoff"]
    assert handoff[0].hop == 5


def test_destination_down_records_a_failure_without_taking_records_and_opens_the_breaker() -> None:
    queues = FakeQueues(visible=30)
    problem = DestinationProblem(FailureKind.SERVER_ERROR, "GET /api/v2/version/: HTTP 503")
    worker, _ = make_worker(queues, problem=problem)
    first = worker.on_recruit(RecruitMessage("recruit"), FakeContext("a"))
    assert first.why == "destination_not_ready" and first.result is None
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("b"))
    assert worker.breaker.state() is BreakerState.OPEN
    assert worker.on_recruit(RecruitMessage("recruit"), FakeContext("c")).why == "breaker"
    assert worker.on_schedule()["reason"] == "breaker_open"
    assert worker.leases.count_running() == 0


def test_half_open_breaker_lets_one_probe_through_and_its_success_closes_it() -> None:
    queues = FakeQueues(visible=30)
    problem = DestinationProblem(FailureKind.DESTINATION_UNREACHABLE, "connection refused")
    worker, clock = make_worker(queues, problem=problem)
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("a"))
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("b"))
    clock.advance(31)
    assert worker.breaker.state() is BreakerState.HALF_OPEN
    assert worker.on_schedule()["recruited"] == 1  # the single probe
    worker.check_destination = lambda target: None
    outcome = worker.on_recruit(RecruitMessage("recruit"), FakeContext("probe"))
    # Once its first records were accepted the breaker closed and the probe scaled up:
    # 3 wanted, itself running, 1 recruit still waiting from the schedule.
    assert outcome.ran and outcome.recruited == 1
    assert worker.breaker.state() is BreakerState.CLOSED


def test_failed_run_counts_towards_the_breaker_by_kind() -> None:
    queues = FakeQueues(visible=30)
    failed = AgentResult(unacked=5, failures={"auth": 3}, stopped_by="deadline")
    worker, _ = make_worker(queues, result=failed, drain=False)
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("a"))
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("b"))
    assert worker.breaker.state() is BreakerState.OPEN
    assert not [m for m in queues.posted if m.reason == "handoff"]


def test_sqs_event_reports_only_the_failed_message() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues)

    def explode(message: RecruitMessage, context: Any) -> Any:
        raise RuntimeError("boom")

    worker.on_recruit = explode  # type: ignore[method-assign]
    response = worker.handle({"Records": [{"messageId": "m-1", "body": "{}"}]}, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_recruit_message_bodies_round_trip_and_foreign_bodies_are_plain_recruits() -> None:
    message = RecruitMessage("handoff", hop=3, requested_by="req-9")
    assert RecruitMessage.decode(message.encode()) == message
    assert RecruitMessage.decode("start agent please") == RecruitMessage("recruit")
    assert RecruitMessage.decode('{"hop": -2}').hop == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SPOOLWATCH_DATA_QUEUE_URL": ""}, "SPOOLWATCH_DATA_QUEUE_URL"),
        ({"SPOOLWATCH_TARGET_CONCURRENCY": "many"}, "SPOOLWATCH_TARGET_CONCURRENCY"),
        ({"SPOOLWATCH_RECORDS_PER_AGENT": "0"}, "SPOOLWATCH_RECORDS_PER_AGENT"),
        ({"SPOOLWATCH_DESTINATION_URL": "ftp://x"}, "SPOOLWATCH_DESTINATION_URL"),
        ({"SPOOLWATCH_DESTINATION_URL": ""}, "SPOOLWATCH_DESTINATION_URL"),
        ({"SPOOLWATCH_DESTINATION_KIND": "other"}, "SPOOLWATCH_DESTINATION_KIND"),
        ({"SPOOLWATCH_WAKE_MAPPING": "wake-mapping"}, "SPOOLWATCH_WAKE_MAPPING"),
        (
            {
                "SPOOLWATCH_WAKE_MAPPING": "arn:aws:lambda:us-east-1:123456789012:"
                "event-source-mapping:14e0db71-5d35-4eb5-b481-8945cf9d10c2"
            },
            "SPOOLWATCH_WAKE_MAPPING",
        ),
    ],
)
def test_bad_settings_name_the_variable(change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServerlessSettings.from_env({**BASE_ENV, **change})


def test_wake_mapping_is_optional_and_read_as_the_mapping_uuid() -> None:
    assert ServerlessSettings.from_env(BASE_ENV).wake_mapping == ""
    mapping = "14e0db71-5d35-4eb5-b481-8945cf9d10c2"
    settings = ServerlessSettings.from_env({**BASE_ENV, "SPOOLWATCH_WAKE_MAPPING": f" {mapping} "})
    assert settings.wake_mapping == mapping


def test_settings_repr_never_shows_the_token() -> None:
    settings = ServerlessSettings.from_env({**BASE_ENV, "SPOOLWATCH_API_TOKEN": "s3cr3t-token"})
    assert "s3cr3t-token" not in repr(settings)


def test_agent_config_from_a_file_is_pointed_at_the_data_queue_and_destination() -> None:
    settings = ServerlessSettings.from_env(BASE_ENV)
    text = (
        "target: {url: 'https://elsewhere.example'}\n"
        "channels: [{name: x, spool: /tmp/nowhere}]\n"
        "batching: {max_records: 7}\n"
    )
    config: AgentConfig = build_agent_config(settings, config_text=text, token="tok")
    assert config.channels == (ChannelConfig(name="sqs", address=settings.data_queue_url),)
    assert isinstance(config.target, TargetConfig)
    assert config.target.url == "http://127.0.0.1:8080"
    assert config.target.api_token is not None and config.target.api_token.reveal() == "tok"
    assert config.batching.max_records == 7


class SlowAgent:
    """Sends its first records at once, then keeps running for a while."""

    def __init__(self, queues: FakeQueues, seconds: float) -> None:
        from spoolwatch.agent.stats import ChannelStats

        self.queues = queues
        self.seconds = seconds
        self.stats = {"sqs": ChannelStats("sqs")}
        self.breaker_states: list[BreakerState] = []
        self.worker: ServerlessAgent | None = None

    def run(self, **_: Any) -> AgentResult:
        import time

        self.stats["sqs"].add(sent=10)
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            if self.worker is not None:
                self.breaker_states.append(self.worker.breaker.state())
            time.sleep(0.05)
        self.queues.visible = 0
        return AgentResult(records_sent=10, stopped_by="empty")

    def stop(self, reason: str = "") -> None:
        return None


def test_probe_closes_the_breaker_at_its_first_accepted_records_not_at_the_end() -> None:
    queues = FakeQueues(visible=30)
    problem = DestinationProblem(FailureKind.DESTINATION_UNREACHABLE, "connection refused")
    worker, clock = make_worker(queues, problem=problem)
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("a"))
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("b"))
    clock.advance(31)
    worker.check_destination = lambda target: None
    agent = SlowAgent(queues, seconds=1.0)
    agent.worker = worker
    worker.agent_factory = lambda config: agent  # type: ignore[assignment,return-value]
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("probe"))
    assert agent.breaker_states[0] is BreakerState.HALF_OPEN
    assert agent.breaker_states[-1] is BreakerState.CLOSED  # closed while still running
    assert worker.breaker.state() is BreakerState.CLOSED


def test_running_agent_recruits_again_when_the_backlog_grows() -> None:
    queues = FakeQueues(visible=5)  # wants 1: the agent itself
    worker, _ = make_worker(queues)
    worker.settings = ServerlessSettings(
        data_queue_url=worker.settings.data_queue_url,
        agent_queue_url=worker.settings.agent_queue_url,
        state_table="state",
        scaling=ScalingSettings(target_concurrency=3, records_per_agent=10, lease_seconds=0.9),
        destination_url="http://127.0.0.1:8080",
    )
    agent = SlowAgent(queues, seconds=1.0)
    worker.agent_factory = lambda config: agent  # type: ignore[assignment,return-value]
    queues_before = len(queues.posted)
    original = agent.run

    def grow_then_run(**kwargs: Any) -> AgentResult:
        queues.visible = 40  # traffic arrives while the agent runs
        return original(**kwargs)

    agent.run = grow_then_run  # type: ignore[method-assign]
    outcome = worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    recruited = len(queues.posted) - queues_before
    assert recruited == outcome.recruited == 2  # ceil(40/10)=4 capped at 3, minus itself


class StoppableAgent:
    """Runs until stopped (or a time limit); records why it was stopped."""

    def __init__(self, seconds: float = 3.0) -> None:
        import threading

        from spoolwatch.agent.stats import ChannelStats

        self.stats = {"sqs": ChannelStats("sqs")}
        self.stopped = threading.Event()
        self.reason = ""
        self.seconds = seconds

    def run(self, **_: Any) -> AgentResult:
        self.stats["sqs"].add(sent=5)
        self.stopped.wait(self.seconds)
        return AgentResult(records_sent=5, stopped_by=self.reason or "deadline")

    def stop(self, reason: str = "") -> None:
        self.reason = self.reason or reason
        self.stopped.set()


def _scaling_worker(queues: FakeQueues, agent: StoppableAgent) -> ServerlessAgent:
    worker, _ = make_worker(queues)
    worker.settings = ServerlessSettings(
        data_queue_url=worker.settings.data_queue_url,
        agent_queue_url=worker.settings.agent_queue_url,
        state_table="state",
        scaling=ScalingSettings(target_concurrency=3, records_per_agent=10, lease_seconds=0.9),
        destination_url="http://127.0.0.1:8080",
    )
    worker.leases = LeaseTable(MemoryLeaseStore(), slots=3, lease_seconds=60, clock=worker.clock)
    worker.agent_factory = lambda config: agent  # type: ignore[assignment,return-value]
    return worker


def _hold(worker: ServerlessAgent, *slots: int) -> None:
    """Other agents hold these slots (claimed straight in the store)."""
    now = worker.clock.now()
    for slot in slots:
        assert worker.leases.store.try_claim(slot, f"other-{slot}", now, now + 60).won


def test_surplus_agent_on_a_high_slot_stops_and_does_not_hand_off() -> None:
    queues = FakeQueues(visible=5)  # wants 1 agent
    agent = StoppableAgent()
    worker = _scaling_worker(queues, agent)
    _hold(worker, 0, 1)  # this agent gets slot 2
    outcome = worker.on_recruit(RecruitMessage("recruit"), FakeContext("me"))
    assert agent.reason == "surplus"
    assert not outcome.handed_off
    assert worker.leases.count_running() == 2  # its slot was released


def test_agent_on_the_lowest_slot_stays_when_others_are_surplus() -> None:
    queues = FakeQueues(visible=5)
    agent = StoppableAgent(seconds=1.0)
    worker = _scaling_worker(queues, agent)
    _hold(worker, 1, 2)  # this agent gets slot 0
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("me"))
    assert agent.reason == ""  # ran to its own end


def test_agent_stops_when_the_breaker_opens_while_it_runs() -> None:
    queues = FakeQueues(visible=30)
    agent = StoppableAgent()
    worker = _scaling_worker(queues, agent)
    original = agent.run

    def fail_elsewhere(**kwargs: Any) -> AgentResult:
        for reason in ("a", "b"):  # other agents fail meanwhile: the breaker opens
            worker.breaker.record_failure(reason=reason, kind=FailureKind.SERVER_ERROR)
        return original(**kwargs)

    agent.run = fail_elsewhere  # type: ignore[method-assign]
    outcome = worker.on_recruit(RecruitMessage("recruit"), FakeContext("me"))
    assert agent.reason == "breaker_open"
    assert not outcome.handed_off


# --- the wake trigger and full reads ---------------------------------------------------------


def _with_switch(worker: ServerlessAgent) -> MemoryWakeSwitch:
    switch = MemoryWakeSwitch()
    worker.wake = switch
    return switch


def test_recruit_that_saw_records_starts_while_the_counts_still_read_empty() -> None:
    queues = FakeQueues(visible=0)
    worker, _ = make_worker(queues)
    plain = worker.on_recruit(RecruitMessage("recruit"), FakeContext("a"))
    assert (plain.ran, plain.why) == (False, "empty_backlog")
    seen = worker.on_recruit(RecruitMessage("wake", seen=True), FakeContext("b"))
    assert seen.ran and seen.result is not None


def test_recruit_message_round_trips_seen_and_old_bodies_default_to_not_seen() -> None:
    message = RecruitMessage("wake", hop=2, requested_by="w", seen=True)
    assert RecruitMessage.decode(message.encode()) == message
    assert RecruitMessage.decode('{"reason": "recruit", "hop": 1}').seen is False
    assert RecruitMessage.decode('{"reason": "recruit", "seen": "yes"}').seen is False


def test_agent_disarms_the_wake_trigger_and_the_last_one_to_find_the_queue_empty_arms_it() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues, target=1)
    switch = _with_switch(worker)
    worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert switch.calls == [("disarm", "agents_running"), ("arm", "fleet_idle")]
    assert switch.armed


def test_agent_leaves_the_wake_trigger_off_while_recruits_wait_or_work_was_handed_off() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues)  # target 3: it recruits two that are still waiting
    switch = _with_switch(worker)
    worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert queues.pending == 2
    assert switch.calls == [("disarm", "agents_running")]

    queues = FakeQueues(visible=30)
    worker, _ = make_worker(
        queues, result=AgentResult(records_sent=10, stopped_by="deadline"), drain=False, target=1
    )
    switch = _with_switch(worker)
    worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert not switch.armed


def test_failure_that_opens_the_breaker_keeps_the_wake_trigger_off() -> None:
    queues = FakeQueues(visible=30)
    problem = DestinationProblem(FailureKind.SERVER_ERROR, "GET /api/v2/version/: HTTP 503")
    worker, _ = make_worker(queues, problem=problem)
    switch = _with_switch(worker)
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("a"))
    worker.on_recruit(RecruitMessage("recruit"), FakeContext("b"))
    assert worker.breaker.state() is BreakerState.OPEN
    assert not switch.armed
    switch.armed = True  # e.g. armed by a race; the schedule puts it right
    worker.on_schedule()
    assert not switch.armed and switch.calls[-1] == ("disarm", "breaker_open")


def test_schedule_arms_the_wake_trigger_only_when_nothing_waits_and_nobody_runs() -> None:
    queues = FakeQueues(visible=0)
    worker, _ = make_worker(queues)
    switch = MemoryWakeSwitch(armed=False)
    worker.wake = switch
    held = worker.leases.acquire("someone")
    worker.on_schedule()
    assert not switch.armed
    assert held is not None
    worker.leases.release(held)
    worker.on_schedule()
    assert switch.armed and switch.enabled


def test_schedule_reconciles_a_mapping_left_in_the_other_state() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues)
    switch = _with_switch(worker)
    switch.enabled = False  # the Lambda call that should have enabled it failed
    worker.on_schedule()
    assert switch.enabled


def test_a_failing_switch_never_fails_the_session() -> None:
    class Broken(MemoryWakeSwitch):
        def disarm(self, why: str) -> bool:
            raise RuntimeError("TooManyRequestsException")

    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues)
    worker.wake = Broken()
    outcome = worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert outcome.ran and outcome.result is not None


def test_agent_whose_reads_come_back_full_doubles_the_fleet_with_seen_recruits() -> None:
    queues = FakeQueues(visible=0)  # the counts lag: they still read empty
    worker, _ = make_worker(queues, target=8)

    class FullReads(FakeAgent):
        def run(self, **kwargs: Any) -> AgentResult:
            self.stats["sqs"].last_read_full = True
            return super().run(**kwargs)

    outcome_result = AgentResult(records_sent=100, stopped_by="empty")
    worker.agent_factory = lambda config: FullReads(outcome_result, queues, True)  # type: ignore[assignment,return-value]
    outcome = worker.on_recruit(RecruitMessage("wake", seen=True), FakeContext())
    assert outcome.recruited == 1  # 2 x 1 running
    assert queues.posted and all(m.seen for m in queues.posted)


def test_data_queue_events_go_to_the_wake_function_and_agent_queue_events_to_agents() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues)
    woken: list[int] = []
    worker.on_wake = lambda records, context: (
        woken.append(len(records))
        or {  # type: ignore[method-assign]
            "batchItemFailures": []
        }
    )
    data_arn = "arn:aws:sqs:us-east-1:123456789012:data"
    worker.handle({"Records": [{"eventSourceARN": data_arn, "body": "{}"}] * 3}, FakeContext())
    assert woken == [3]
    agent_arn = "arn:aws:sqs:us-east-1:123456789012:agent"
    worker.handle(
        {"Records": [{"eventSourceARN": agent_arn, "messageId": "m", "body": "{}"}]},
        FakeContext(),
    )
    assert woken == [3]
    assert worker.leases.count_running() == 0


def test_lambda_agents_read_with_the_idle_wait_so_thin_traffic_keeps_one_running(
    tmp_path: Any,
) -> None:
    settings = ServerlessSettings.from_env(BASE_ENV)
    assert settings.idle_seconds == 20.0
    config = build_agent_config(settings, config_text=None, token="t")
    assert config.batching.wait_seconds == 20.0
    quick = ServerlessSettings.from_env({**BASE_ENV, "SPOOLWATCH_IDLE_SECONDS": "2.5"})
    from_file = build_agent_config(
        quick,
        config_text=(
            "target: {url: 'http://127.0.0.1:1'}\n"
            "channels: [{name: data, spool: 'sqs://ignored'}]\n"
            "batching: {wait_seconds: 0.1}\n"
        ),
        token=None,
    )
    assert from_file.batching.wait_seconds == 2.5


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "nan", "inf"])
def test_idle_seconds_must_be_a_positive_number(raw: str) -> None:
    with pytest.raises(ConfigError, match="SPOOLWATCH_IDLE_SECONDS"):
        ServerlessSettings.from_env({**BASE_ENV, "SPOOLWATCH_IDLE_SECONDS": raw})


class _NoPendingQueues(FakeQueues):
    """Recruits start at once: none ever waits in the agent queue."""

    def pending_recruits(self) -> int:
        return 0


def test_agent_with_no_new_records_since_its_last_decision_recruits_nobody() -> None:
    queues = _NoPendingQueues(visible=30)  # counts that lag: the queue ran dry long ago
    worker, _ = make_worker(queues, target=3)
    worker.settings = dataclasses.replace(
        worker.settings, scaling=dataclasses.replace(worker.settings.scaling, lease_seconds=0.6)
    )  # decide every 0.2 s

    class Idle(FakeAgent):
        def run(self, **_: Any) -> AgentResult:
            self.stats["sqs"].add(sent=5)  # its first records, then nothing more
            time.sleep(1.2)
            return self.result

    worker.agent_factory = lambda config: Idle(  # type: ignore[assignment,return-value]
        AgentResult(records_sent=5, stopped_by="empty"), queues, False
    )
    worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert len(queues.posted) == 2  # the first decision only: 3 wanted, itself running


@pytest.mark.parametrize(("drained", "handed_off"), [(False, True), (True, False)])
def test_deadline_with_records_still_coming_hands_off_while_the_counts_read_empty(
    drained: bool, handed_off: bool
) -> None:
    queues = FakeQueues(visible=0)
    result = AgentResult(
        records_sent=10,
        stopped_by="deadline",
        channels={"sqs": {"read": 10, "drained": drained}},
    )
    worker, _ = make_worker(queues, result=result, drain=False)
    outcome = worker.on_recruit(RecruitMessage("handoff", seen=True), FakeContext())
    assert outcome.handed_off is handed_off
    handoffs = [m for m in queues.posted if m.reason == "handoff"]
    assert [m.seen for m in handoffs] == ([True] if handed_off else [])


def test_agent_waiting_in_a_read_after_a_full_one_neither_doubles_nor_recruits() -> None:
    queues = _NoPendingQueues(visible=5000)  # lagging counts of a queue just emptied
    worker, _ = make_worker(queues, target=8)

    class Waiting(FakeAgent):
        def run(self, **_: Any) -> AgentResult:
            channel = self.stats["sqs"]
            channel.last_read_full = True  # its last read was full ...
            channel.reading_since = time.monotonic() - 5.0  # ... the next has waited 5 s
            channel.add(sent=100)
            time.sleep(0.6)
            return self.result

    worker.agent_factory = lambda config: Waiting(  # type: ignore[assignment,return-value]
        AgentResult(records_sent=100, stopped_by="empty"), queues, False
    )
    worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert queues.posted == []


def test_each_session_closes_its_agent_so_warm_environments_keep_no_connections() -> None:
    queues = FakeQueues(visible=30)
    worker, _ = make_worker(queues)
    closed: list[bool] = []

    class Closing(FakeAgent):
        def close(self) -> None:
            closed.append(True)

    worker.agent_factory = lambda config: Closing(  # type: ignore[assignment,return-value]
        AgentResult(records_sent=5, stopped_by="empty"), queues, True
    )
    worker.on_recruit(RecruitMessage("recruit"), FakeContext())
    assert closed == [True]


def test_agent_throttled_by_the_destination_recruits_nobody_even_on_full_reads() -> None:
    queues = FakeQueues(visible=0)  # the counts lag: they still read empty
    worker, _ = make_worker(queues, target=8)

    class ThrottledFullReads(FakeAgent):
        def run(self, **kwargs: Any) -> AgentResult:
            self.stats["sqs"].last_read_full = True
            self.stats["sqs"].failures["http_429"] += 3
            return super().run(**kwargs)

    outcome_result = AgentResult(records_sent=100, stopped_by="empty")
    worker.agent_factory = lambda config: ThrottledFullReads(outcome_result, queues, True)  # type: ignore[assignment,return-value]
    outcome = worker.on_recruit(RecruitMessage("wake", seen=True), FakeContext())
    assert outcome.ran
    assert outcome.recruited == 0  # a full read alone would have doubled the fleet (above)
    assert queues.posted == []
    # What it saw, the fleet learned: at most the one agent that ran, for a while.
    learned = worker.ceiling.read()
    assert learned is not None and learned.agents == 1
    assert learned.until == pytest.approx(worker.clock.now() + CEILING_SECONDS)


def test_the_schedule_recruits_no_more_than_a_fresh_learned_ceiling_allows() -> None:
    queues = FakeQueues(visible=1000)  # wants the target, 8
    worker, clock = make_worker(queues, target=8)
    worker.ceiling.write(LearnedCeiling(3, clock.now() + 60))
    assert worker.on_schedule()["recruited"] == 3
    clock.advance(60)  # it ran out: the fleet may grow again
    queues.posted.clear()
    assert worker.on_schedule()["recruited"] == 5  # 8 wanted, 3 still waiting to start


def test_an_unreadable_ceiling_never_fails_a_decision() -> None:
    class Broken(MemoryCeilingStore):
        def read(self) -> LearnedCeiling | None:
            raise TransientError("DynamoDB unreachable")

    queues = FakeQueues(visible=1000)
    worker, _ = make_worker(queues, target=8)
    worker.ceiling = Broken()
    assert worker.on_schedule()["recruited"] == 8
