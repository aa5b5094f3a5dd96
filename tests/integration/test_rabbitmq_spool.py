"""The RabbitMQ spool against the real broker on 127.0.0.1 (one fresh queue per test)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from spoolwatch.errors import ConfigError, InvalidRecord, SpoolUnavailable
from spoolwatch.records import DataType, Record, decode_json
from spoolwatch.spools.base import Delivery
from spoolwatch.spools.rabbitmq import RabbitMQConfig, RabbitMQSpool, from_url, mask_url
from tests.conftest import IN_CI, free_port

pika = pytest.importorskip("pika")

pytestmark = pytest.mark.rabbitmq


def _record(n: int = 0, deployment: str = "650a1b2c3d4e5f6a7b8c9d0e") -> Record:
    return Record.new(
        DataType.DEPLOYMENT_STATS,
        deployment,
        {
            "timestamp": "2026-11-24 20:01:42.113+0100",
            "modelId": "m",
            "numPredictions": n,
            "executionTime": 1.5,
            "userError": False,
            "systemError": False,
        },
    )


@pytest.fixture
def queue_name() -> str:
    return f"spoolwatch-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def spool(rabbitmq_url: str, queue_name: str) -> Iterator[RabbitMQSpool]:
    config = RabbitMQConfig(
        url=rabbitmq_url, queue=queue_name, connection_name=queue_name, retry_delay=0.2
    )
    spool = RabbitMQSpool(config)
    try:
        yield spool
    finally:
        spool.close()
        RabbitMQSpool(config).delete_queues()


def _drain(spool: RabbitMQSpool, wait: float = 0.3) -> list[str | None]:
    ids: list[str | None] = []
    while batch := spool.read(100, wait=wait):
        ids.extend(d.record_id for d in batch)
        spool.ack(batch)
    return ids


def _read(spool: RabbitMQSpool, count: int, wait: float = 3.0) -> list[Delivery]:
    """Read until ``count`` deliveries arrived (a read may return fewer than it may)."""
    deadline = time.monotonic() + wait
    got: list[Delivery] = []
    while len(got) < count and (remaining := deadline - time.monotonic()) > 0:
        got += spool.read(count - len(got), wait=remaining)
    return got


def _close_our_connection(connection_name: str) -> None:
    """Make the broker close this test's connection (only ours: other tests share it)."""
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        if IN_CI:
            pytest.fail("rabbitmqctl is needed to close connections from the broker side")
        pytest.skip("rabbitmqctl not found")
    listing = subprocess.run(
        [rabbitmqctl, "list_connections", "-q", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pids = [
        line.split("\t", 1)[0]
        for line in listing.stdout.splitlines()
        if f'{{"connection_name","{connection_name}"}}' in line
    ]
    assert pids, f"no broker connection named {connection_name}"
    for pid in pids:
        subprocess.run(
            [rabbitmqctl, "close_connection", pid, "test"],
            capture_output=True,
            timeout=60,
            check=True,
        )


def test_records_come_back_in_order_with_their_ids(spool: RabbitMQSpool) -> None:
    records = [_record(i) for i in range(30)]
    spool.write(records)
    deliveries = _read(spool, 30)
    assert [d.record_id for d in deliveries] == [r.id for r in records]
    assert [d.record.payload["numPredictions"] for d in deliveries if d.record] == list(range(30))
    assert all(d.position.startswith(f"rabbitmq:{spool.config.queue}#") for d in deliveries)
    assert not any(d.redelivered for d in deliveries)


def test_backlog_counts_waiting_and_in_flight_and_ack_removes_for_good(
    spool: RabbitMQSpool,
) -> None:
    spool.write([_record(i) for i in range(10)])
    assert spool.backlog().total == 10
    deliveries = _read(spool, 4)
    assert len(deliveries) == 4
    backlog = spool.backlog()
    assert (backlog.visible, backlog.in_flight) == (6, 4)
    spool.ack(deliveries)
    assert spool.backlog() == type(backlog)(visible=6, in_flight=0)
    spool.close()
    assert len(_drain(spool)) == 6
    assert spool.backlog().total == 0


def test_acks_with_gaps_settle_exactly_the_acked_deliveries(spool: RabbitMQSpool) -> None:
    records = [_record(i) for i in range(12)]
    spool.write(records)
    deliveries = _read(spool, 12)
    assert len(deliveries) == 12
    spool.ack([deliveries[i] for i in (0, 1, 2, 5, 7)])
    spool.nack([deliveries[6]])
    spool.ack([deliveries[i] for i in (3, 4)])
    assert spool.backlog().in_flight == 4  # 8, 9, 10, 11 are still in hand
    spool.close()  # un-acked ones go back to the queue
    again = _drain(spool)
    assert sorted(again) == sorted(records[i].id for i in (6, 8, 9, 10, 11))


def test_nacked_records_are_read_again_marked_redelivered(spool: RabbitMQSpool) -> None:
    record = _record(1)
    spool.write([record])
    first = spool.read(1, wait=2)
    spool.nack(first, delay=30)  # RabbitMQ has no delayed redelivery: requeued at once
    second = spool.read(1, wait=2)
    assert [d.record_id for d in second] == [record.id]
    assert second[0].redelivered
    spool.ack(second)


def test_unacked_records_are_redelivered_after_close(
    spool: RabbitMQSpool, rabbitmq_url: str
) -> None:
    records = [_record(i) for i in range(5)]
    spool.write(records)
    assert len(_read(spool, 5)) == 5
    spool.close()
    other = RabbitMQSpool(RabbitMQConfig(url=rabbitmq_url, queue=spool.config.queue))
    try:
        again = _read(other, 5)
        assert [d.record_id for d in again] == [r.id for r in records]
        assert all(d.redelivered for d in again)
        other.ack(again)
    finally:
        other.close()


def test_spool_reconnects_after_broker_closes_connection_and_loses_nothing(
    spool: RabbitMQSpool,
) -> None:
    records = [_record(i) for i in range(300)]
    spool.write(records[:200])
    acked = _read(spool, 50)
    spool.ack(acked)
    unacked = _read(spool, 50)
    assert len(unacked) == 50

    _close_our_connection(spool.config.queue)

    spool.write(records[200:])  # the writer reconnects too
    spool.ack(unacked)  # tags of the dead channel: ignored, the broker redelivers them
    rest = _drain(spool)
    seen = [d.record_id for d in acked] + rest
    assert sorted(seen) == sorted(r.id for r in records)
    assert len(seen) == len(set(seen))
    assert spool.backlog().total == 0


def test_redelivered_flag_is_set_for_records_in_hand_when_connection_died(
    spool: RabbitMQSpool,
) -> None:
    records = [_record(i) for i in range(3)]
    spool.write(records)
    assert len(_read(spool, 3)) == 3
    _close_our_connection(spool.config.queue)
    again = _read(spool, 3)
    assert [d.record_id for d in again] == [r.id for r in records]
    assert all(d.redelivered for d in again)
    spool.ack(again)


def test_quarantine_parks_record_with_reason_and_acks_original(spool: RabbitMQSpool) -> None:
    records = [_record(i) for i in range(3)]
    spool.write(records)
    deliveries = _read(spool, 3)
    spool.quarantine(deliveries[1:2], "destination rejected it: 422 bad modelId")
    spool.ack([deliveries[0], deliveries[2]])
    parked = list(spool.quarantined())
    assert [p.reason for p in parked] == ["destination rejected it: 422 bad modelId"]
    assert parked[0].position == deliveries[1].position
    assert decode_json(parked[0].raw).id == records[1].id
    assert parked[0].quarantined_at
    spool.close()
    assert _drain(spool) == []
    assert len(list(spool.quarantined())) == 1  # looking does not consume


def test_undecodable_message_is_delivered_with_error_then_quarantined(
    spool: RabbitMQSpool,
) -> None:
    spool.write_raw(
        [b"{not json", b'{"header": {"dataType": "EVENT", "version": 9}, "data": "{}"}']
    )
    deliveries = _read(spool, 2)
    assert [d.record for d in deliveries] == [None, None]
    assert all(d.error is not None for d in deliveries)
    assert "version" in str(deliveries[1].error)
    spool.quarantine(deliveries, str(deliveries[0].error))
    assert [p.raw for p in spool.quarantined()] == [b"{not json", deliveries[1].raw]
    assert spool.backlog().total == 0


def test_peek_shows_waiting_records_without_consuming_them(spool: RabbitMQSpool) -> None:
    records = [_record(i) for i in range(5)]
    spool.write(records)
    assert [d.record_id for d in spool.peek(3)] == [r.id for r in records[:3]]
    assert [d.record_id for d in spool.peek()] == [r.id for r in records]
    assert spool.backlog().visible == 5
    assert sorted(_drain(spool)) == sorted(r.id for r in records)


def test_many_records_are_confirmed_in_one_pipelined_write(spool: RabbitMQSpool) -> None:
    records = [_record(i) for i in range(3000)]
    spool.write(records)
    assert spool.backlog().visible == 3000
    assert _drain(spool) == [r.id for r in records]


def test_datarobot_message_body_published_raw_is_decoded(
    spool: RabbitMQSpool, fixtures_dir: Path
) -> None:
    body = (fixtures_dir / "transports" / "rabbitmq_first_message_body.json").read_bytes()
    # What DataRobot's library does: default exchange, routing key = queue, persistent.
    connection = pika.BlockingConnection(pika.URLParameters(spool.config.url))
    try:
        channel = connection.channel()
        channel.queue_declare(spool.config.queue, durable=True)
        channel.basic_publish(
            "", spool.config.queue, body.decode("utf-8"), pika.BasicProperties(delivery_mode=2)
        )
    finally:
        connection.close()
    [delivery] = spool.read(1, wait=2)
    assert delivery.error is None and delivery.record is not None
    assert delivery.record.data_type == DataType.DEPLOYMENT_STATS
    assert delivery.record.deployment_id == "650a1b2c3d4e5f6a7b8c9d0e"
    assert delivery.record.payload["numPredictions"] == 3
    spool.ack([delivery])


def test_queue_declared_with_other_arguments_is_a_config_error(
    rabbitmq_url: str, queue_name: str
) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    channel.queue_declare(queue_name, durable=True, arguments={"x-max-length": 10})
    try:
        spool = RabbitMQSpool(RabbitMQConfig(url=rabbitmq_url, queue=queue_name))
        with pytest.raises(ConfigError, match="precondition"):
            spool.write([_record()])
        spool.close()
    finally:
        channel.queue_delete(queue_name)
        connection.close()


def test_wrong_password_is_a_config_error_that_does_not_show_it(queue_name: str) -> None:
    secret = "not-the-password-4711"
    spool = from_url(
        f"amqp://guest:{secret}@127.0.0.1:5672/%2F?queue={queue_name}", connection_attempts=1
    )
    with pytest.raises(ConfigError) as caught:
        spool.write([_record()])
    assert secret not in str(caught.value)
    assert secret not in spool.name


def test_unknown_virtual_host_is_a_config_error(rabbitmq_url: str, queue_name: str) -> None:
    spool = from_url(
        f"amqp://guest:guest@127.0.0.1:5672/no-such-vhost?queue={queue_name}", connection_attempts=1
    )
    with pytest.raises(ConfigError, match="virtual host"):
        spool.backlog()


def test_unreachable_broker_is_spool_unavailable(queue_name: str) -> None:
    port = free_port()
    spool = from_url(
        f"amqp://guest:guest@127.0.0.1:{port}/%2F?queue={queue_name}",
        connection_attempts=1,
        retry_delay=0.05,
        reconnect_attempts=1,
    )
    with pytest.raises(SpoolUnavailable):
        spool.read(10, wait=0)


def test_oversized_record_is_refused_before_anything_is_written(spool: RabbitMQSpool) -> None:
    big = Record.new(DataType.EVENT, "d", {"message": "x" * (spool.record_byte_limit + 1)})
    with pytest.raises(InvalidRecord, match="exceeds"):
        spool.write([_record(1), big])
    assert spool.backlog().total == 0


def test_from_url_takes_queue_from_query_or_option_and_masks_password() -> None:
    spool = from_url("amqp://user:s3cret@broker.example:5672/prod?queue=mlops&heartbeat=30")
    assert spool.config.queue == "mlops"
    assert "s3cret" not in spool.name and "mlops" in spool.name
    assert spool.config.dead_letter_queue == "mlops.quarantine"
    assert from_url("amqp://h/%2F", queue="q").config.queue == "q"
    with pytest.raises(ConfigError, match="twice"):
        from_url("amqp://h/%2F?queue=a", queue="b")
    with pytest.raises(ConfigError, match="no queue"):
        from_url("amqp://h/%2F")
    with pytest.raises(ConfigError, match="both certificate_path and keyfile_path"):
        from_url("amqps://h/%2F?queue=q", certificate_path="/c.pem")
    assert mask_url("amqp://u:p@h:1/v") == "amqp://u:***@h:1/v"


def test_open_spool_dispatches_amqp_urls_to_the_rabbitmq_spool(
    rabbitmq_url: str, queue_name: str
) -> None:
    from spoolwatch.spools import open_spool

    spool = open_spool(f"{rabbitmq_url}?queue={queue_name}")
    assert isinstance(spool, RabbitMQSpool)
    try:
        spool.write([_record()])
        assert spool.backlog().visible == 1
    finally:
        spool.delete_queues()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (pika.exceptions.ChannelClosedByBroker(406, "PRECONDITION_FAILED"), ConfigError),
        (pika.exceptions.ChannelClosedByBroker(403, "ACCESS_REFUSED"), ConfigError),
        (pika.exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED"), SpoolUnavailable),
        (pika.exceptions.ProbableAccessDeniedError("vhost"), ConfigError),
        (pika.exceptions.ProbableAuthenticationError("login"), ConfigError),
        (pika.exceptions.StreamLostError("reset"), SpoolUnavailable),
        (pika.exceptions.AMQPConnectionError("refused"), SpoolUnavailable),
        (ConnectionResetError("reset"), SpoolUnavailable),
    ],
)
def test_pika_errors_are_translated_by_what_to_do_next(
    error: Exception, expected: type[Exception]
) -> None:
    from spoolwatch.spools.rabbitmq_connection import translate

    translated = translate(error, "publish", "amqp://u:***@h/%2F?queue=q")
    assert type(translated) is expected
    assert "publish" in str(translated)


def test_writing_after_the_queue_was_deleted_is_an_error_not_a_silent_drop(
    spool: RabbitMQSpool, rabbitmq_url: str
) -> None:
    spool.write([_record(1)])
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        connection.channel().queue_delete(spool.config.queue)
    finally:
        connection.close()
    with pytest.raises(ConfigError, match="unroutable"):
        spool.write([_record(2)])


def test_a_larger_read_after_small_ones_loses_and_duplicates_nothing(spool: RabbitMQSpool) -> None:
    records = [_record(i) for i in range(1500)]
    spool.write(records)
    first = _read(spool, 10)
    spool.ack(first)
    rest: list[Delivery] = []
    while batch := spool.read(1000, wait=1):  # asks for a larger prefetch window
        spool.ack(batch)
        rest += batch
    assert [d.record_id for d in first + rest] == [r.id for r in records]
    spool.close()
    assert spool.read(10, wait=0.3) == []
