"""The wake function's batch on moto's SQS: what it reports to Lambda for odd batches."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lambda_harness import FakeContext
from tests.integration.test_serverless_e2e import Stack, stack  # noqa: F401

pytestmark = pytest.mark.aws


def _arn(stack: Stack) -> str:  # noqa: F811
    return str(
        stack.sqs.get_queue_attributes(QueueUrl=stack.data_queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    )


def _event_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
    }


def _received_twice(stack: Stack) -> list[dict[str, Any]]:  # noqa: F811
    """The one waiting message, received twice (two receipt handles), as SQS's
    at-least-once delivery may hand it to one trigger batch."""
    copies = []
    for _ in range(2):
        (message,) = stack.sqs.receive_message(
            QueueUrl=stack.data_queue_url,
            MaxNumberOfMessages=1,
            VisibilityTimeout=0,
            MessageSystemAttributeNames=["All"],
        )["Messages"]
        copies.append(message)
    assert copies[0]["MessageId"] == copies[1]["MessageId"]
    assert copies[0]["ReceiptHandle"] != copies[1]["ReceiptHandle"]
    return copies


def test_a_message_twice_in_one_batch_is_reported_failed_while_the_destination_is_down(
    stack: Stack,  # noqa: F811
) -> None:
    assert len(stack.fill(rows=25)) == 1  # one record
    stack.server.fail_next(503, times=1000)
    worker = stack.worker()
    arn = _arn(stack)
    copies = _received_twice(stack)
    context = FakeContext("wake-1", lambda: 3000)
    response = worker.handle({"Records": [_event_record(m, arn) for m in copies]}, context)
    # Not delivered: Lambda must not delete it, and the copy must not have been deleted.
    assert response["batchItemFailures"] == [{"itemIdentifier": copies[0]["MessageId"]}]
    assert stack.delivered_ids() == {}
    assert stack.backlog() == 1


def test_a_message_twice_in_one_batch_is_delivered_once(stack: Stack) -> None:  # noqa: F811
    (record_id,) = stack.fill(rows=25)
    worker = stack.worker()
    arn = _arn(stack)
    copies = _received_twice(stack)
    context = FakeContext("wake-1", lambda: 3000)
    response = worker.handle({"Records": [_event_record(m, arn) for m in copies]}, context)
    assert response["batchItemFailures"] == []
    assert stack.delivered_ids() == {record_id: 1}
