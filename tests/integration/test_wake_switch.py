"""The wake switch against moto: the flag in DynamoDB, the trigger through Lambda's API."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from spoolwatch.errors import ConfigError, TransientError
from spoolwatch.serverless.dynamodb import create_table
from spoolwatch.serverless.wake.dynamodb import WAKE_KEY, DynamoWakeSwitch
from tests.conftest import free_port

pytestmark = pytest.mark.aws


class RecordingLambda:
    """Lambda's client, with the calls made through it written down."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_event_source_mapping(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_event_source_mapping", kwargs))
        result: dict[str, Any] = self.client.get_event_source_mapping(**kwargs)
        return result

    def update_event_source_mapping(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("update_event_source_mapping", kwargs))
        result: dict[str, Any] = self.client.update_event_source_mapping(**kwargs)
        return result

    def updates(self) -> list[bool]:
        return [kw["Enabled"] for name, kw in self.calls if name == "update_event_source_mapping"]


@dataclass
class ScriptedLambda:
    """A mapping whose State is whatever the test says, and whose updates may be refused."""

    state: str
    refuse_with: str = ""
    updates: list[bool] = field(default_factory=list)

    def get_event_source_mapping(self, **kwargs: Any) -> dict[str, Any]:
        return {"UUID": kwargs["UUID"], "State": self.state}

    def update_event_source_mapping(self, **kwargs: Any) -> dict[str, Any]:
        if self.refuse_with:
            error = {"Error": {"Code": self.refuse_with, "Message": "refused"}}
            raise ClientError(error, "UpdateEventSourceMapping")  # type: ignore[arg-type]
        self.updates.append(kwargs["Enabled"])
        return {"UUID": kwargs["UUID"], "State": "Updating"}


@dataclass
class Wake:
    """A state table, and a data queue with a function mapped to it."""

    table: str
    mapping_uuid: str
    dynamodb: Any
    lambda_client: Any

    def switch(self, lambda_client: Any = None, mapping_uuid: str = "") -> DynamoWakeSwitch:
        return DynamoWakeSwitch(
            self.dynamodb,
            self.table,
            lambda_client if lambda_client is not None else RecordingLambda(self.lambda_client),
            mapping_uuid or self.mapping_uuid,
        )

    def mapping_state(self) -> str:
        state: str = self.lambda_client.get_event_source_mapping(UUID=self.mapping_uuid)["State"]
        return state

    def flag(self) -> bool | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=WAKE_KEY, ConsistentRead=True)
        if "Item" not in item:
            return None
        return bool(item["Item"]["armed"]["BOOL"])

    def set_flag(self, armed: bool) -> None:
        """Flip the flag the way a switch whose Lambda call failed would leave it."""
        self.dynamodb.put_item(TableName=self.table, Item={**WAKE_KEY, "armed": {"BOOL": armed}})


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("wake.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@pytest.fixture
def wake(moto_server: str) -> Iterator[Wake]:
    name = f"wake-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb")
    create_table(dynamodb, name)
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    role = boto3.client("iam").create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    lambda_client = boto3.client("lambda")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="wake.handler",
        Code={"ZipFile": _function_zip()},
        Timeout=30,
    )
    # Nothing is ever sent to this queue: moto would invoke the function for it.
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=name, BatchSize=10, Enabled=True
    )
    yield Wake(name, mapping["UUID"], dynamodb, lambda_client)
    lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_moto_applies_enabled_at_once_and_reports_enabled_or_disabled(wake: Wake) -> None:
    # What the other tests rely on: no Enabling/Disabling in between in moto.
    assert wake.mapping_state() == "Enabled"
    wake.lambda_client.update_event_source_mapping(UUID=wake.mapping_uuid, Enabled=False)
    assert wake.mapping_state() == "Disabled"


def test_a_new_switch_is_armed_without_an_item_so_arming_changes_nothing(wake: Wake) -> None:
    lambda_client = RecordingLambda(wake.lambda_client)
    switch = wake.switch(lambda_client)
    assert switch.armed() is True
    assert switch.arm("idle") is False
    assert wake.flag() is None
    assert lambda_client.calls == []


def test_disarm_flips_the_flag_and_disables_the_mapping(wake: Wake) -> None:
    lambda_client = RecordingLambda(wake.lambda_client)
    assert wake.switch(lambda_client).disarm("an agent took a lease slot") is True
    assert wake.flag() is False
    assert wake.mapping_state() == "Disabled"
    assert lambda_client.updates() == [False]
    item = wake.dynamodb.get_item(TableName=wake.table, Key=WAKE_KEY, ConsistentRead=True)
    assert item["Item"]["why"]["S"] == "an agent took a lease slot"
    assert float(item["Item"]["changed_at"]["N"]) > 0


def test_a_second_disarm_returns_false_and_makes_no_lambda_call(wake: Wake) -> None:
    assert wake.switch().disarm("first") is True
    lambda_client = RecordingLambda(wake.lambda_client)
    assert wake.switch(lambda_client).disarm("second") is False
    assert lambda_client.calls == []
    assert wake.mapping_state() == "Disabled"


def test_arm_after_disarm_enables_the_mapping_again(wake: Wake) -> None:
    lambda_client = RecordingLambda(wake.lambda_client)
    switch = wake.switch(lambda_client)
    assert switch.disarm("busy") is True
    assert switch.arm("the last agent stopped on an empty queue") is True
    assert switch.arm("again") is False
    assert wake.flag() is True
    assert wake.mapping_state() == "Enabled"
    assert lambda_client.updates() == [False, True]


def _race(switches: list[DynamoWakeSwitch], *, arming: bool) -> list[bool]:
    """Every switch arms (or disarms) at the same moment, each in its own thread."""
    barrier = threading.Barrier(len(switches))
    results: list[bool] = []
    lock = threading.Lock()

    def flip(switch: DynamoWakeSwitch) -> None:
        barrier.wait()
        changed = switch.arm("race") if arming else switch.disarm("race")
        with lock:
            results.append(changed)

    threads = [threading.Thread(target=flip, args=(switch,)) for switch in switches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_of_two_switches_racing_exactly_one_flips_the_flag(wake: Wake) -> None:
    clients = [RecordingLambda(boto3.client("lambda")) for _ in range(2)]
    switches = [wake.switch(client) for client in clients]
    rounds = [False, True, False, True]  # disarm, arm, disarm, arm
    for arming in rounds:
        assert sorted(_race(switches, arming=arming)) == [False, True], arming
        assert wake.flag() is arming
        assert wake.mapping_state() == ("Enabled" if arming else "Disabled")
    # One Lambda call per round in all, made by whichever switch won it.
    assert sum(len(client.updates()) for client in clients) == len(rounds)


def test_reconcile_disables_a_mapping_left_enabled_after_a_failed_update(wake: Wake) -> None:
    wake.set_flag(armed=False)
    switch = wake.switch()
    assert wake.mapping_state() == "Enabled"
    assert switch.reconcile() == "disabled"
    assert wake.mapping_state() == "Disabled"
    assert switch.reconcile() is None


def test_reconcile_enables_a_mapping_left_disabled_while_armed(wake: Wake) -> None:
    wake.lambda_client.update_event_source_mapping(UUID=wake.mapping_uuid, Enabled=False)
    switch = wake.switch()
    assert switch.reconcile() == "enabled"  # no item: armed
    assert wake.mapping_state() == "Enabled"
    assert switch.reconcile() is None


def _unreachable_lambda() -> Any:
    """Lambda's client pointed at a port nobody listens on: every call fails at once."""
    return boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(connect_timeout=2, retries={"max_attempts": 1}),
    )


def test_an_unreachable_lambda_still_flips_the_flag_and_reconcile_fixes_it_later(
    wake: Wake, caplog: pytest.LogCaptureFixture
) -> None:
    broken = wake.switch(_unreachable_lambda())
    with caplog.at_level(logging.WARNING, logger="spoolwatch.serverless.wake.dynamodb"):
        assert broken.disarm("an agent took a lease slot") is True
    assert wake.flag() is False
    assert wake.mapping_state() == "Enabled"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and wake.mapping_uuid in warnings[0], warnings
    with pytest.raises(TransientError):
        broken.reconcile()
    assert wake.switch().reconcile() == "disabled"
    assert wake.mapping_state() == "Disabled"


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "TooManyRequestsException", "ServiceException"]
)
def test_a_refused_lambda_call_still_returns_true_and_logs(
    wake: Wake, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = ScriptedLambda(state="Enabled", refuse_with=code)
    with caplog.at_level(logging.WARNING, logger="spoolwatch.serverless.wake.dynamodb"):
        assert wake.switch(refusing).disarm("busy") is True
    assert wake.flag() is False
    assert any(code in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_reconcile_with_a_wrong_mapping_uuid_names_the_variable(wake: Wake) -> None:
    wake.set_flag(armed=False)
    with pytest.raises(ConfigError, match="SPOOLWATCH_WAKE_MAPPING"):
        wake.switch(mapping_uuid=str(uuid.uuid4())).reconcile()
    assert wake.mapping_state() == "Enabled"
    assert wake.switch().reconcile() == "disabled"


def test_a_mapping_busy_with_an_earlier_change_leaves_the_flag_flipped(wake: Wake) -> None:
    busy = ScriptedLambda(state="Updating", refuse_with="ResourceInUseException")
    assert wake.switch(busy).disarm("busy") is True
    assert wake.flag() is False
    assert busy.updates == []


@pytest.mark.parametrize("state", ["Creating", "Updating", "Deleting"])
def test_reconcile_waits_while_the_mapping_is_in_transition(wake: Wake, state: str) -> None:
    wake.set_flag(armed=False)
    scripted = ScriptedLambda(state=state)
    assert wake.switch(scripted).reconcile() is None
    assert scripted.updates == []


@pytest.mark.parametrize(
    ("armed", "state", "done", "enabled"),
    [
        (False, "Enabling", "disabled", False),
        (True, "Disabling", "enabled", True),
        (False, "Disabling", None, None),
        (True, "Enabling", None, None),
    ],
)
def test_reconcile_counts_enabling_and_disabling_as_where_they_are_going(
    wake: Wake, armed: bool, state: str, done: str | None, enabled: bool | None
) -> None:
    wake.set_flag(armed=armed)
    scripted = ScriptedLambda(state=state)
    assert wake.switch(scripted).reconcile() == done
    assert scripted.updates == ([] if enabled is None else [enabled])


def test_reconcile_that_loses_a_race_with_another_update_does_nothing(wake: Wake) -> None:
    wake.set_flag(armed=False)
    scripted = ScriptedLambda(state="Enabled", refuse_with="ResourceInUseException")
    assert wake.switch(scripted).reconcile() is None


def _env(**extra: str) -> dict[str, str]:
    return {
        "SPOOLWATCH_DATA_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/data",
        "SPOOLWATCH_AGENT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/agent",
        "SPOOLWATCH_STATE_TABLE": "state",
        "SPOOLWATCH_DESTINATION_URL": "http://127.0.0.1:8080",
        "SPOOLWATCH_API_TOKEN": "t",
        **extra,
    }


def test_the_agent_gets_a_dynamodb_switch_only_when_told_the_mapping(moto_server: str) -> None:
    from spoolwatch.scaling.wake import NoWakeSwitch
    from spoolwatch.serverless.setup import from_env

    mapping = str(uuid.uuid4())
    told = from_env(_env(SPOOLWATCH_WAKE_MAPPING=mapping))
    untold = from_env(_env())
    try:
        assert isinstance(told.wake, DynamoWakeSwitch)
        assert told.wake.mapping_uuid == mapping
        assert isinstance(untold.wake, NoWakeSwitch)
    finally:
        told.close()
        untold.close()
