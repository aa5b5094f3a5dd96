"""A password in the target URL never reaches the sink's failures, rejections or logs."""

from __future__ import annotations

import logging

import httpx
import pytest

from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig, TargetConfig
from spoolwatch.sinks.http import HttpSink

PASSWORD = "url-passw0rd-xyz"


def _record() -> Record:
    payload = {"timestamp": "t", "modelId": "m", "numPredictions": 1, "executionTime": 1.0}
    return Record.new(DataType.DEPLOYMENT_STATS, "d1", payload)


def _sink(status: int) -> HttpSink:
    target = TargetConfig(url=f"https://admin:{PASSWORD}@dr.example.com/api/v2")

    def handler(request: httpx.Request) -> httpx.Response:
        if status == 0:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, headers={"Location": "/elsewhere/"}, text="no")

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpSink(target, BatchingConfig(), client=client)


@pytest.mark.parametrize("status", [0, 302, 401, 500, 400])
def test_password_in_target_url_is_not_in_failures_rejections_or_logs(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = _sink(status)
    result = sink.send([_record()])
    shown = " ".join(
        [str(result.failure), *(r.reason for r in result.rejected.values()), caplog.text]
    )
    assert "dr.example.com" in shown  # the message still says where
    assert PASSWORD not in shown and PASSWORD not in repr(sink)


def test_credentials_in_target_url_still_travel_as_basic_auth_not_in_the_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    target = TargetConfig(url=f"https://admin:{PASSWORD}@dr.example.com/api/v2")
    client = httpx.Client(transport=httpx.MockTransport(handler))
    result = HttpSink(target, BatchingConfig(), client=client).send([_record()])
    assert result.accepted == [0]
    (request,) = seen
    assert request.headers["authorization"] == httpx.BasicAuth("admin", PASSWORD)._auth_header
    assert PASSWORD not in str(request.url)
