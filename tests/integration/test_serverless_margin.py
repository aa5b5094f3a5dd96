"""A Lambda function whose timeout is below the deadline margin still drains records."""

from __future__ import annotations

import json

import pytest

from spoolwatch.serverless.aws import RecruitMessage
from tests.integration.lambda_harness import FakeContext, monotonic_deadline
from tests.integration.test_serverless_e2e import Stack, stack  # noqa: F401

pytestmark = pytest.mark.aws


def test_thirty_second_function_with_the_default_margin_drains_and_says_so_once(
    stack: Stack,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The default margin (60 s) is twice the function's timeout: without the cap the
    # agent would stop reading before its first read, every time, and say nothing.
    worker = stack.worker(
        SPOOLWATCH_DEADLINE_MARGIN_SECONDS="60", SPOOLWATCH_TARGET_CONCURRENCY="1"
    )
    caplog.set_level("INFO", logger="spoolwatch.serverless.worker")
    sent = []
    for session in range(2):  # two invocations of one warm execution environment
        written = stack.fill(rows=250)  # 10 records
        context = FakeContext(f"agent-{session}", monotonic_deadline(30.0))
        outcome = worker.on_recruit(RecruitMessage("recruit"), context)
        assert outcome.result is not None and outcome.result.stopped_by == "empty"
        sent.append(outcome.result.records_sent)
        assert written <= set(stack.delivered_ids())
    assert sent == [10, 10] and stack.backlog() == 0
    capped = [
        json.loads(r.getMessage())
        for r in caplog.records
        if '"deadline_margin_capped"' in r.getMessage()
    ]
    (line,) = capped
    assert line["configured"] == 60.0 and 14.0 < line["margin"] <= 15.0
