"""Reporter → SQS (moto's server mode) → messages decode; DataRobot's 25-row split."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spoolwatch.records import DataType, Record, decode_json, validate_record
from spoolwatch.report import Reporter
from spoolwatch.spools.sqs import SqsSpool

boto3 = pytest.importorskip("boto3")

pytestmark = pytest.mark.aws

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"


@pytest.fixture
def sqs(moto_server: str) -> Any:
    return boto3.client("sqs")


def make_queue(sqs: Any) -> tuple[str, str]:
    name = f"sw-report-{uuid.uuid4().hex[:10]}"
    return name, str(sqs.create_queue(QueueName=name)["QueueUrl"])


def receive_all(sqs: Any, url: str) -> list[Record]:
    records = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return records
        for message in messages:
            records.append(decode_json(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_sixty_rows_go_to_sqs_as_25_25_10_decodable_messages(sqs: Any) -> None:
    _name, url = make_queue(sqs)
    env = {
        "MLOPS_SPOOLER_TYPE": "SQS",
        "MLOPS_SQS_QUEUE_URL": url,
        "MLOPS_DEPLOYMENT_ID": DEP,
        "MLOPS_MODEL_ID": MODEL,
    }
    with Reporter.from_env(env) as reporter:
        assert isinstance(reporter.spool, SqsSpool)
        assert reporter.spool.record_byte_limit == 256_000
        reporter.report_predictions_data(
            {"x": list(range(60))},
            [float(i) for i in range(60)],
            [f"id-{i}" for i in range(60)],
        )
        reporter.report_actuals([{"associationId": f"id-{i}", "actualValue": i} for i in range(30)])
    records = receive_all(sqs, url)
    for record in records:
        validate_record(record)
        assert record.deployment_id == DEP
    predictions = [r for r in records if r.data_type == DataType.PREDICTIONS_DATA]
    actuals = [r for r in records if r.data_type == DataType.ACTUALS_DATA]
    # A standard queue does not keep order: compare the multiset of part sizes and the rows.
    assert sorted(r.row_count() for r in predictions) == [10, 25, 25]
    assert sorted(r.row_count() for r in actuals) == [5, 25]
    ids = sorted(i for r in predictions for i in r.payload["associationIds"])
    assert ids == sorted(f"id-{i}" for i in range(60))


def test_queue_name_setting_resolves_the_queue(sqs: Any) -> None:
    name, url = make_queue(sqs)
    env = {"SPOOLWATCH_SPOOLER_TYPE": "SQS", "SPOOLWATCH_SQS_QUEUE_NAME": name}
    with Reporter.from_env(env, deployment_id=DEP, model_id=MODEL) as reporter:
        reporter.report_event("prediction_request.failed", "upstream timeout", {"status": 504})
    (record,) = receive_all(sqs, url)
    assert record.payload["eventType"] == "prediction_request.failed"
    assert record.payload["data"] == {"status": 504}


def test_custom_metric_too_big_for_one_sqs_message_arrives_in_parts(sqs: Any) -> None:
    # 12 000 buckets: DataRobot's library fails with TypeError here and sends nothing.
    _name, url = make_queue(sqs)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    with Reporter(url, deployment_id=DEP, model_id=MODEL) as reporter:
        reporter.report_custom_metric(
            "metric",
            [float(i) for i in range(12_000)],
            [start + timedelta(seconds=i) for i in range(12_000)],
        )
    records = receive_all(sqs, url)
    assert sorted(len(r.payload["buckets"]) for r in records) == [1_760, 2_560, 2_560, 2_560, 2_560]
    values = sorted(b["value"] for r in records for b in r.payload["buckets"])
    assert values == [float(i) for i in range(12_000)]
