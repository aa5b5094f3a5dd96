"""The SQS spool against moto's server mode (standard and FIFO queues, dead-letter queues)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from spoolwatch.errors import ConfigError, InvalidRecord, SpoolUnavailable
from spoolwatch.records import DataType, Record, decode_json, encode_json
from spoolwatch.spools.base import Backlog
from spoolwatch.spools.sqs import REDRIVE_REASON, SqsConfig, SqsSpool, from_url
from tests.conftest import free_port

boto3 = pytest.importorskip("boto3")

pytestmark = pytest.mark.aws


def _record(n: int = 0, deployment: str = "650a1b2c3d4e5f6a7b8c9d0e", pad: int = 0) -> Record:
    payload: dict[str, Any] = {
        "timestamp": "2026-11-24 20:01:42.113+0100",
        "modelId": "m",
        "numPredictions": n,
        "executionTime": 1.5,
    }
    if pad:
        payload["padding"] = "x" * pad
    return Record.new(DataType.DEPLOYMENT_STATS, deployment, payload)


@pytest.fixture
def sqs(moto_server: str) -> Any:
    return boto3.client("sqs")


def _queue(sqs: Any, fifo: bool = False, **attributes: str) -> str:
    name = f"sw-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoQueue"] = "true"
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


class RecordingClient:
    """The real client, with SendMessageBatch calls recorded and optionally failed."""

    def __init__(self, client: Any, fail_first: int = 0, sender_fault: bool = False) -> None:
        self._client = client
        self.batches: list[list[dict[str, Any]]] = []
        self._fail_left = fail_first
        self._sender_fault = sender_fault

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        self.batches.append(Entries)
        failed = []
        if self._fail_left:
            self._fail_left -= 1
            failed.append(
                {
                    "Id": Entries[0]["Id"],
                    "SenderFault": self._sender_fault,
                    "Code": "InternalError",
                    "Message": "simulated",
                }
            )
            Entries = Entries[1:]
        reply = (
            self._client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)
            if Entries
            else {"Successful": []}
        )
        reply["Failed"] = reply.get("Failed", []) + failed
        return reply


def _drain(spool: SqsSpool) -> list[str | None]:
    ids: list[str | None] = []
    while batch := spool.read(50, wait=0):
        ids.extend(d.record_id for d in batch)
        spool.ack(batch)
    return ids


def test_records_are_read_back_with_their_ids_and_ack_deletes_them(sqs: Any) -> None:
    spool = from_url(_queue(sqs))
    records = [_record(i) for i in range(25)]
    spool.write(records)
    assert spool.backlog() == Backlog(visible=25, in_flight=0)
    deliveries = spool.read(25, wait=1)
    assert sorted(d.record_id for d in deliveries) == sorted(r.id for r in records)
    assert spool.backlog() == Backlog(visible=0, in_flight=25)
    assert not any(d.redelivered for d in deliveries)
    assert all(d.position.startswith("sqs:") for d in deliveries)
    spool.ack(deliveries)
    assert spool.backlog().total == 0


def test_queue_name_is_resolved_with_get_queue_url(sqs: Any) -> None:
    url = _queue(sqs)
    spool = from_url("sqs://" + url.rsplit("/", 1)[1])
    assert spool.queue_url == url
    spool.write([_record()])
    assert spool.backlog().visible == 1


def test_nacked_record_is_readable_again_and_marked_redelivered(sqs: Any) -> None:
    spool = from_url(_queue(sqs))
    record = _record()
    spool.write([record])
    spool.nack(spool.read(1, wait=1))
    [again] = spool.read(1, wait=1)
    assert again.record_id == record.id and again.redelivered


def test_nack_with_delay_hides_record_until_delay_passed(sqs: Any) -> None:
    spool = from_url(_queue(sqs))
    spool.write([_record()])
    spool.nack(spool.read(1, wait=1), delay=1)
    assert spool.read(1, wait=0) == []
    assert spool.backlog().in_flight == 1
    time.sleep(1.3)
    assert len(spool.read(1, wait=1)) == 1


def test_extend_keeps_delivery_in_flight_past_its_visibility_timeout(sqs: Any) -> None:
    spool = from_url(_queue(sqs), visibility_timeout=1)
    spool.write([_record()])
    deliveries = spool.read(1, wait=1)
    spool.extend(deliveries, 30)
    time.sleep(1.3)
    assert spool.read(1, wait=0) == []
    spool.ack(deliveries)
    assert spool.backlog().total == 0


def test_fifo_uses_deployment_group_and_record_id_as_dedup_id(sqs: Any) -> None:
    url = _queue(sqs, fifo=True)
    spool = from_url(url)
    records = [_record(i, deployment="dep-A") for i in range(4)] + [_record(9, "dep-B")]
    spool.write(records)
    spool.write(records[:2])  # a retried write: deduplicated by record id
    reply = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageSystemAttributeNames=["All"],
    )
    messages = reply["Messages"]
    assert [decode_json(m["Body"]).id for m in messages] == [r.id for r in records]
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {"dep-A"}
    assert [m["Attributes"]["MessageDeduplicationId"] for m in messages] == [r.id for r in records]
    # Order through the spool, on a fresh queue (moto keeps a FIFO group locked after a
    # receive with visibility 0, which real SQS does not).
    ordered = from_url(_queue(sqs, fifo=True))
    ordered.write(records)
    assert [d.record_id for d in ordered.read(10, wait=1)] == [r.id for r in records]


def test_fifo_group_given_at_construction_wins(sqs: Any) -> None:
    url = _queue(sqs, fifo=True)
    from_url(url, message_group_id="producer-7").write([_record(deployment="dep-A")])
    reply = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["MessageGroupId"])
    assert reply["Messages"][0]["Attributes"]["MessageGroupId"] == "producer-7"


def test_batches_of_large_records_stay_within_max_message_size(sqs: Any) -> None:
    url = _queue(sqs, MaximumMessageSize="262144")
    client = RecordingClient(boto3.client("sqs"))
    spool = from_url(url, client=client)
    records = [_record(i, pad=90_000) for i in range(7)] + [_record(i) for i in range(23)]
    spool.write(records)
    sizes = [sum(len(e["MessageBody"].encode()) for e in batch) for batch in client.batches]
    assert all(size <= 262_144 for size in sizes)
    assert all(len(batch) <= 10 for batch in client.batches)
    assert [len(b) for b in client.batches] == [2, 2, 2, 10, 10, 4]
    assert sorted(_drain(spool)) == sorted(r.id for r in records)


def test_record_larger_than_max_message_size_is_refused_and_nothing_sent(sqs: Any) -> None:
    spool = from_url(_queue(sqs, MaximumMessageSize="4096"))
    with pytest.raises(InvalidRecord, match="MaximumMessageSize"):
        spool.write([_record(), _record(pad=5000)])
    assert spool.backlog().total == 0


def test_entries_reported_failed_are_sent_again(sqs: Any) -> None:
    client = RecordingClient(boto3.client("sqs"), fail_first=2)
    spool = from_url(_queue(sqs), client=client)
    records = [_record(i) for i in range(12)]
    spool.write(records)
    assert sorted(_drain(spool)) == sorted(r.id for r in records)
    assert len(client.batches) == 4  # 10 + 2, then one repeat of each failed entry


def test_entries_that_keep_failing_raise_instead_of_being_dropped(sqs: Any) -> None:
    client = RecordingClient(boto3.client("sqs"), fail_first=100)
    spool = from_url(_queue(sqs), client=client, attempts=2)
    with pytest.raises(SpoolUnavailable, match="still failed"):
        spool.write([_record(1), _record(2)])
    sender = from_url(_queue(sqs), client=RecordingClient(boto3.client("sqs"), 1, True))
    with pytest.raises(InvalidRecord, match="refused"):
        sender.write([_record(1)])


def test_quarantine_goes_to_own_quarantine_queue_with_reason(sqs: Any) -> None:
    url = _queue(sqs)
    spool = from_url(url)
    assert list(spool.quarantined()) == []
    records = [_record(i) for i in range(3)]
    spool.write(records)
    deliveries = spool.read(3, wait=1)
    spool.quarantine(deliveries[:1], "422 from the destination: unknown modelId")
    spool.ack(deliveries[1:])
    assert spool.dead_letter_queue_url() == url + "-quarantine"
    [parked] = spool.quarantined()
    assert parked.reason == "422 from the destination: unknown modelId"
    assert parked.position == deliveries[0].position
    assert decode_json(parked.raw).id == deliveries[0].record_id
    assert spool.backlog().total == 0
    assert len(list(spool.quarantined())) == 1  # looking does not consume


def test_fifo_quarantine_queue_is_fifo_too(sqs: Any) -> None:
    spool = from_url(_queue(sqs, fifo=True))
    spool.write([_record(1)])
    spool.quarantine(spool.read(1, wait=1), "bad")
    url = spool.dead_letter_queue_url()
    assert url is not None and url.endswith("-quarantine.fifo")
    assert [p.reason for p in spool.quarantined()] == ["bad"]


def test_quarantine_uses_the_redrive_policy_dead_letter_queue(sqs: Any) -> None:
    dlq = _queue(sqs)
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    policy = json.dumps({"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": "1"})
    spool = from_url(_queue(sqs, RedrivePolicy=policy))
    spool.write([_record(1), _record(2)])
    first, second = sorted(spool.read(2, wait=1), key=lambda d: d.record.payload["numPredictions"])
    spool.quarantine([first], "undecodable payload")
    assert spool.dead_letter_queue_url() == dlq
    spool.nack([second])
    assert spool.read(1, wait=0) == []  # received twice > maxReceiveCount: SQS moved it
    parked = sorted(spool.quarantined(), key=lambda p: p.reason)
    assert [p.reason for p in parked] == [REDRIVE_REASON, "undecodable payload"]
    assert decode_json(parked[0].raw).id == second.record_id


def test_undecodable_body_is_delivered_with_error(sqs: Any) -> None:
    spool = from_url(_queue(sqs))
    spool.write_raw(["{not json"])
    [delivery] = spool.read(1, wait=1)
    assert delivery.record is None and delivery.error is not None
    assert delivery.raw == b"{not json"
    spool.quarantine([delivery], str(delivery.error))
    assert [p.raw for p in spool.quarantined()] == [b"{not json"]


def test_peek_pages_through_waiting_records_without_consuming_them(sqs: Any) -> None:
    spool = from_url(_queue(sqs))
    records = [_record(i) for i in range(25)]
    spool.write(records)
    assert len(list(spool.peek(12))) == 12
    assert sorted(d.record_id for d in spool.peek()) == sorted(r.id for r in records)
    assert spool.backlog() == Backlog(visible=25, in_flight=0)
    assert len(spool.read(25, wait=0)) == 25  # visible again at once


def test_datarobot_message_body_sent_raw_is_decoded(sqs: Any, fixtures_dir: Path) -> None:
    body = (fixtures_dir / "transports" / "sqs_standard_first_message_body.json").read_text()
    url = _queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody=body)  # exactly what DataRobot's library sends
    [delivery] = from_url(url).read(1, wait=1)
    assert delivery.error is None and delivery.record is not None
    assert delivery.record.data_type == DataType.DEPLOYMENT_STATS
    assert delivery.record.id == "f09593b6-c04c-4d6b-914f-11ff8f06e890"
    assert delivery.raw == body.encode()


def test_written_body_is_the_plain_json_envelope(sqs: Any) -> None:
    url = _queue(sqs)
    record = _record(3)
    from_url(url).write([record])
    message = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert message["Body"].encode() == encode_json(record)


def test_missing_queue_is_a_config_error(moto_server: str) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        from_url("sqs://no-such-queue-here").backlog()


def test_unreachable_endpoint_is_spool_unavailable(moto_server: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/123456789012/q"
    spool = SqsSpool(SqsConfig(queue_url=url, endpoint_url=url.rsplit("/", 2)[0]))
    with pytest.raises(SpoolUnavailable):
        spool.read(1, wait=0)


def test_from_url_accepts_names_aws_urls_and_other_endpoints() -> None:
    spool = from_url("sqs://mlops-data.fifo")
    assert spool.config.queue_name == "mlops-data.fifo" and spool.config.fifo
    aws = from_url("https://sqs.eu-west-1.amazonaws.com/123456789012/mlops")
    assert aws.config.region == "eu-west-1" and aws.config.endpoint_url is None
    assert not aws.config.fifo and aws.name.endswith("/mlops")
    local = from_url("http://127.0.0.1:4566/000000000000/q")
    assert local.config.endpoint_url == "http://127.0.0.1:4566"
    for bad in ("sqs://", "sqs://a/b", "https://sqs.us-east-1.amazonaws.com/1/q?x=1"):
        with pytest.raises(ConfigError):
            from_url(bad)
    with pytest.raises(ConfigError, match="wait_time_seconds"):
        from_url("sqs://q", wait_time_seconds=21)
    with pytest.raises(ConfigError, match="option"):
        from_url("sqs://q", no_such_option=1)
    assert SqsSpool.record_byte_limit == 256_000


def test_open_spool_dispatches_queue_urls_to_the_sqs_spool(sqs: Any) -> None:
    from spoolwatch.spools import open_spool

    url = _queue(sqs)
    spool = open_spool(url)
    assert isinstance(spool, SqsSpool)
    spool.write([_record()])
    assert spool.backlog().visible == 1


def test_fifo_group_stays_the_first_deployment_for_the_producers_lifetime(sqs: Any) -> None:
    url = _queue(sqs, fifo=True)
    spool = from_url(url)
    spool.write([_record(1, deployment="dep-A")])
    spool.write([_record(2, deployment="dep-B")])
    reply = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    )
    assert [m["Attributes"]["MessageGroupId"] for m in reply["Messages"]] == ["dep-A", "dep-A"]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, SpoolUnavailable),
        ("InternalError", 500, SpoolUnavailable),
        ("SomethingNew", 503, SpoolUnavailable),
        ("AWS.SimpleQueueService.NonExistentQueue", 400, ConfigError),
        ("AccessDenied", 403, ConfigError),
        ("InvalidClientTokenId", 403, ConfigError),
    ],
)
def test_botocore_errors_are_translated_by_what_to_do_next(
    code: str, status: int, expected: type[Exception]
) -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from spoolwatch.spools.sqs_requests import translate

    error = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ReceiveMessage",
    )
    translated = translate(error, "receive messages", "sqs://q")
    assert type(translated) is expected
    assert "sqs://q" in str(translated) and "receive messages" in str(translated)
    unreachable = translate(EndpointConnectionError(endpoint_url="http://x"), "send", "q")
    assert isinstance(unreachable, SpoolUnavailable)
