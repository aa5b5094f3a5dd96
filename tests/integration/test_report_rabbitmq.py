"""Reporter → RabbitMQ (the real broker on 127.0.0.1) → messages decode."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from spoolwatch.records import DataType, Record, decode_json, validate_record
from spoolwatch.report import Reporter
from spoolwatch.spools.rabbitmq import RabbitMQConfig, RabbitMQSpool

pika = pytest.importorskip("pika")

pytestmark = pytest.mark.rabbitmq

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"


@pytest.fixture
def queue_name(rabbitmq_url: str) -> Iterator[str]:
    name = f"spoolwatch-report-{uuid.uuid4().hex[:10]}"
    yield name
    RabbitMQSpool(RabbitMQConfig(url=rabbitmq_url, queue=name)).delete_queues()


def raw_messages(rabbitmq_url: str, queue: str) -> list[bytes]:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        channel = connection.channel()
        bodies = []
        while True:
            method, _properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    finally:
        connection.close()


def test_reports_published_to_rabbitmq_decode_from_the_messages(
    rabbitmq_url: str, queue_name: str
) -> None:
    env = {
        "MLOPS_SPOOLER_TYPE": "RABBITMQ",
        "MLOPS_RABBITMQ_QUEUE_URL": rabbitmq_url,
        "MLOPS_RABBITMQ_QUEUE_NAME": queue_name,
        "MLOPS_DEPLOYMENT_ID": DEP,
        "MLOPS_MODEL_ID": MODEL,
        "MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE": "3",
    }
    with Reporter.from_env(env) as reporter:
        assert isinstance(reporter.spool, RabbitMQSpool)
        reporter.report_deployment_stats(7, 3.25, batch_id="b")
        reporter.report_predictions_data({"x": list(range(7))}, [float(i) for i in range(7)])
        reporter.report_event("prediction_request.failed", "boom")
    records: list[Record] = [decode_json(body) for body in raw_messages(rabbitmq_url, queue_name)]
    assert [r.data_type for r in records] == [DataType.DEPLOYMENT_STATS] + [
        DataType.PREDICTIONS_DATA
    ] * 3 + [DataType.EVENT]
    for record in records:
        validate_record(record)
        assert record.deployment_id == DEP
    assert [r.row_count() for r in records[1:4]] == [3, 3, 1]


def test_background_reporter_publishes_everything_before_close_returns(
    rabbitmq_url: str, queue_name: str
) -> None:
    with Reporter(
        f"{rabbitmq_url}?queue={queue_name}",
        deployment_id=DEP,
        model_id=MODEL,
        background=True,
        buffer_size=500,
        max_block_seconds=1.0,
    ) as reporter:
        for i in range(200):
            reporter.report_deployment_stats(i, 1.0)
    assert reporter.dropped.reports == 0
    counts = [
        decode_json(body).payload["numPredictions"]
        for body in raw_messages(rabbitmq_url, queue_name)
    ]
    assert counts == list(range(200))
