"""The HTTP sink's ``X-Request-ID``: one per request and attempt, named by every failure."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig, TargetConfig
from spoolwatch.sinks.http import HttpSink, request_id_prefix
from spoolwatch.sinks.secrets import Secret

TOKEN = "very-secret-token-123"
SENT = re.compile(r"agent-7-[0-9a-f]{12}")


def _record(deployment: str = "d1") -> Record:
    return Record.new(
        DataType.DEPLOYMENT_STATS,
        deployment,
        {"timestamp": "t", "modelId": "m", "numPredictions": 1, "executionTime": 1.0},
    )


def _sink(
    handler: Callable[[httpx.Request], httpx.Response], kind: str = "spoolwatch"
) -> tuple[HttpSink, list[str]]:
    """A sink of agent ``agent-7`` and the request ids it sends, in order."""
    sent: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["x-request-id"])
        return handler(request)

    target = TargetConfig(url="https://h.example.com", api_token=Secret(TOKEN), kind=kind)
    client = httpx.Client(transport=httpx.MockTransport(recording))
    sink = HttpSink(target, BatchingConfig(max_records_per_request=1), client=client,
                    agent_id="agent-7")  # fmt: skip
    return sink, sent


@pytest.mark.parametrize(
    ("agent_id", "prefix"),
    [
        ("agent-7", "agent-7"),
        ("ip-10-0-0-1.ec2.internal-4242", "ip-10-0-0-1.ec2.internal-4242"),
        ("my agent/ä", "my-agent"),
        ("  ", "agent"),
        ("x" * 100, "x" * 64),
    ],
)
def test_the_agent_id_becomes_a_prefix_the_service_keeps(agent_id: str, prefix: str) -> None:
    assert request_id_prefix(agent_id) == prefix


def test_every_request_and_every_question_carries_a_new_request_id() -> None:
    sink, sent = _sink(lambda request: httpx.Response(202))
    assert sink.send([_record(), _record("d2")]).requests == 2
    sink.check_credentials()
    sink.heartbeat({"agentId": "agent-7"})
    sink.known_record_ids(["r1"])
    assert len(sent) == 5 and len(set(sent)) == 5
    assert all(SENT.fullmatch(rid) for rid in sent), sent


def test_a_retried_send_gets_a_new_id_and_each_failure_names_its_own() -> None:
    sink, sent = _sink(lambda request: httpx.Response(503))
    first = sink.send([_record()]).failure
    second = sink.send([_record()]).failure
    assert first is not None and second is not None
    assert sent[0] != sent[1]
    assert (first.request_id, second.request_id) == (sent[0], sent[1])
    assert str(first).endswith(f"HTTP 503 (request id {sent[0]})")


def test_a_failure_names_the_id_the_destination_answered_with_when_it_differs() -> None:
    sink, sent = _sink(lambda request: httpx.Response(500, headers={"X-Request-ID": "svc-9"}))
    failure = sink.send([_record()]).failure
    assert failure is not None
    assert f"(request id {sent[0]}, answered as svc-9)" in str(failure)


def test_an_echoed_id_is_named_once() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, headers={"X-Request-ID": request.headers["x-request-id"]})

    sink, sent = _sink(echo)
    message = str(sink.send([_record()]).failure)
    assert f"(request id {sent[0]})" in message and "answered as" not in message


def test_a_rejection_a_refusal_and_a_connection_error_name_the_request() -> None:
    sink, sent = _sink(lambda request: httpx.Response(422, text="bad field"))
    rejection = sink.send([_record()]).rejected[0]
    assert rejection.request_id == sent[0]
    assert f"HTTP 422 (request id {sent[0]}): bad field" in rejection.reason

    sink, sent = _sink(lambda request: httpx.Response(401, text=f"token {TOKEN} unknown"))
    refused = sink.send([_record()]).failure
    assert refused is not None and refused.request_id == sent[0]
    assert str(refused).endswith(f"(request id {sent[0]})") and TOKEN not in str(refused)
    message = sink.check_credentials()
    assert message is not None and message.endswith(f"(request id {sent[1]})")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    sink, sent = _sink(down)
    failure = sink.send([_record()]).failure
    assert failure is not None and f"(request id {sent[0]})" in str(failure)
