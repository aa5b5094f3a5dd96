"""The HTTP sink with a mock transport: status handling, headers, merging, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import orjson
import pytest

from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig, TargetConfig
from spoolwatch.sinks.http import DryRunSink, HttpSink, api_base
from spoolwatch.sinks.rest_requests import idempotency_key
from spoolwatch.sinks.secrets import Secret

TOKEN = "very-secret-token-123"


def _record(deployment: str = "d1") -> Record:
    return Record.new(
        DataType.DEPLOYMENT_STATS,
        deployment,
        {"timestamp": "t", "modelId": "m", "numPredictions": 1, "executionTime": 1.0},
    )


def _sink(handler: Callable[[httpx.Request], httpx.Response], **batching: int) -> HttpSink:
    target = TargetConfig(url="https://dr.example.com/api/v2", api_token=Secret(TOKEN))
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpSink(target, BatchingConfig(**batching), client=client)


def test_base_url_follows_datarobot_rules() -> None:
    assert api_base("https://h/api/v2") == "https://h/api/v2/"
    assert api_base("https://h/") == "https://h/api/v2/"
    assert api_base("http://h:8080/prefix/api/v2/") == "http://h:8080/prefix/api/v2/"


def test_accepted_request_carries_token_idempotency_key_and_record_ids() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    records = [_record(), _record()]
    result = _sink(handler).send(records)
    assert result.accepted == [0, 1] and result.failure is None and result.requests == 1
    (request,) = seen
    assert str(request.url) == (
        "https://dr.example.com/api/v2/deployments/d1/predictionRequests/fromJSON/"
    )
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    ids = [str(r.id) for r in records]
    assert request.headers["x-spoolwatch-record-ids"] == ",".join(ids)
    assert request.headers["idempotency-key"] == idempotency_key(ids)
    assert len(orjson.loads(request.content)["data"]) == 2


@pytest.mark.parametrize(
    ("status", "kind"), [(503, "http_5xx"), (500, "http_5xx"), (429, "http_429")]
)
def test_transient_status_keeps_records_unsettled(status: int, kind: str) -> None:
    sink = _sink(lambda request: httpx.Response(status, headers={"Retry-After": "7"}))
    result = sink.send([_record()])
    assert result.accepted == [] and result.rejected == {}
    assert result.failure is not None and result.failure_kind == kind
    assert result.failure.retry_after == 7.0


def test_server_error_carries_its_status_and_the_start_of_its_body() -> None:
    sink = _sink(lambda request: httpx.Response(500, text="cannot fold " + "x" * 5000))
    result = sink.send([_record()])
    assert result.failure is not None and result.failure.status == 500
    assert result.failure.body.startswith("cannot fold") and len(result.failure.body) == 2000


@pytest.mark.parametrize("status", [401, 403])
def test_auth_answer_keeps_records_unsettled_and_says_what_to_check(status: int) -> None:
    sink = _sink(lambda request: httpx.Response(status, json={"detail": "invalid token"}))
    result = sink.send([_record(), _record("d2")])
    assert result.accepted == [] and result.rejected == {}
    assert result.failure is not None and result.failure_kind == "auth"
    message = str(result.failure)
    assert f"HTTP {status}" in message and "https://dr.example.com/api/v2/" in message
    assert "invalid token" in message and "refused the API token" in message
    assert "scope" in message and TOKEN not in message


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps({"detail": f"token {TOKEN} lacks ingest " + "x" * 5000}),
        orjson.dumps({"message": f"token {TOKEN} lacks ingest " + "x" * 5000}),  # DataRobot's
        f"<html>\n<b>403</b> token {TOKEN} lacks ingest {'x' * 5000}</html>".encode(),
    ],
)
def test_auth_message_keeps_the_destinations_reason_bounded_and_without_the_token(
    body: bytes,
) -> None:
    sink = _sink(lambda request: httpx.Response(403, content=body))
    result = sink.send([_record()])
    assert result.failure is not None and result.failure_kind == "auth"
    message = str(result.failure)
    assert "token **** lacks ingest" in message and TOKEN not in message
    assert "xxx…" in message and "x" * 301 not in message and "\n" not in message


def test_auth_message_without_a_body_says_only_the_status() -> None:
    sink = _sink(lambda request: httpx.Response(401))
    result = sink.send([_record()])
    message = str(result.failure)
    assert "HTTP 401; the destination https://dr.example.com/api/v2/ refused" in message


@pytest.mark.parametrize(
    ("kind", "asked"),
    [
        ("spoolwatch", "POST /api/v2/spoolwatch/records/known/"),
        ("datarobot", "GET /api/v2/version/"),
    ],
)
def test_credentials_check_asks_one_cheap_question_and_names_the_target(
    kind: str, asked: str
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return httpx.Response(401, json={"detail": "invalid or revoked API token"})

    target = TargetConfig(url="https://dr.example.com", api_token=Secret(TOKEN), kind=kind)
    sink = HttpSink(target, client=httpx.Client(transport=httpx.MockTransport(handler)))
    message = sink.check_credentials()
    assert seen == [asked]
    assert message is not None and "refused the API token" in message and TOKEN not in message
    assert "https://dr.example.com/api/v2/" in message


def test_credentials_check_passes_a_good_token_and_an_unreachable_destination() -> None:
    assert (
        _sink(lambda request: httpx.Response(200, json={"known": []})).check_credentials() is None
    )

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    assert _sink(down).check_credentials() is None


def test_missing_token_is_named_as_missing() -> None:
    target = TargetConfig(url="https://dr.example.com")
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(401)))
    message = HttpSink(target, client=client).check_credentials()
    assert message is not None and "none is configured" in message


@pytest.mark.parametrize(
    ("answer", "answers"), [(200, True), (404, True), (500, False), (503, False), (429, False)]
)
def test_probe_answers_unless_the_destination_fails_it(answer: int, answers: bool) -> None:
    assert _sink(lambda request: httpx.Response(answer)).answers() is answers


def test_probe_does_not_answer_when_the_destination_is_unreachable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    assert _sink(down).answers() is False


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_keeps_records_unsettled_instead_of_quarantining_them(status: int) -> None:
    # A target URL that redirects (http to https, a moved host) is the setup's fault, not
    # the records': the records must wait for a fix, not be parked as rejected.
    location = "https://elsewhere.example.com/api/v2/"
    sink = _sink(lambda request: httpx.Response(status, headers={"Location": location}))
    result = sink.send([_record(), _record()])
    assert result.accepted == [] and result.rejected == {}
    assert result.failure is not None and location in str(result.failure)


def test_unreadable_retry_after_is_ignored_not_raised() -> None:
    sink = _sink(lambda request: httpx.Response(503, headers={"Retry-After": "soon"}))
    result = sink.send([_record()])
    assert result.accepted == [] and result.rejected == {}
    assert result.failure is not None and result.failure_kind == "http_5xx"
    assert result.failure.retry_after is None


def test_connection_error_is_transient_and_names_no_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    result = _sink(handler).send([_record()])
    assert result.failure_kind == "connection" and TOKEN not in str(result.failure)


def test_failure_stops_the_send_and_keeps_earlier_requests_accepted() -> None:
    answers = iter([202, 503])
    sink = _sink(lambda request: httpx.Response(next(answers)))
    result = sink.send([_record("d1"), _record("d2"), _record("d3")])
    assert result.accepted == [0] and result.failure_kind == "http_5xx"
    assert result.done() == {0}


def test_rejected_merged_request_is_retried_record_by_record() -> None:
    bad = _record()
    bad.payload["executionTime"] = "oops"
    bad_id = str(bad.id)

    def handler(request: httpx.Request) -> httpx.Response:
        if bad_id in request.headers["x-spoolwatch-record-ids"]:
            return httpx.Response(422, json={"message": "executionTime is not a number"})
        return httpx.Response(202)

    result = _sink(handler).send([_record(), bad, _record()])
    assert sorted(result.accepted) == [0, 2]
    rejection = result.rejected[1]
    assert rejection.status == 422 and "executionTime is not a number" in rejection.reason


def test_request_size_limit_splits_requests() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(202)

    result = _sink(handler, max_records_per_request=2).send([_record() for _ in range(5)])
    assert [len(orjson.loads(b)["data"]) for b in bodies] == [2, 2, 1]
    assert result.accepted == [0, 1, 2, 3, 4] and result.requests == 3


def test_heartbeat_404_disables_heartbeats() -> None:
    assert _sink(lambda request: httpx.Response(404)).heartbeat({"agentId": "a"}) is False
    assert _sink(lambda request: httpx.Response(202)).heartbeat({"agentId": "a"}) is True


def test_token_never_appears_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        sink = _sink(lambda request: httpx.Response(503))
        sink.send([_record()])
    assert TOKEN not in repr(sink) and TOKEN not in caplog.text
    assert TOKEN not in repr(TargetConfig(url="https://h", api_token=Secret(TOKEN)))


def test_dry_run_sink_converts_without_sending() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the dry run must not send")

    target = TargetConfig(url="https://h")
    sink = DryRunSink(target, client=httpx.Client(transport=httpx.MockTransport(handler)))
    result = sink.send([_record(), _record("d2")])
    assert result.accepted == [0, 1] and result.requests == 2


def test_payload_no_converter_expects_rejects_only_that_record() -> None:
    odd = Record.new(
        DataType.PREDICTION_STATS,
        "d1",
        {"timestamp": "t", "categoricalAggregateMap": {"c": {"categoryCounts": ["x"]}}},
    )
    result = _sink(lambda request: httpx.Response(202)).send([_record(), odd])
    assert result.accepted == [0] and "cannot convert" in result.rejected[1].reason


def test_records_per_request_are_capped_so_the_ids_header_stays_small() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        assert len(request.headers["x-spoolwatch-record-ids"]) < 8000
        return httpx.Response(202)

    _sink(handler, max_records_per_request=1000).send([_record() for _ in range(250)])
    # Two requests of one destination, in flight together: either may arrive first.
    assert sorted(len(orjson.loads(b)["data"]) for b in bodies) == [50, 200]


def _actuals(ids: tuple[str, ...] = ("a-1",)) -> Record:
    return Record.new(
        DataType.ACTUALS_DATA,
        "d1",
        {"actualsList": [{"associationId": i, "actualValue": 1.0} for i in ids], "modelId": "m"},
    )


def _job_sink(answers: list[httpx.Response], seen: list[str], **options: float) -> HttpSink:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": "/api/v2/status/job-7/"})
        return answers.pop(0)

    target = TargetConfig(url="https://dr.example.com", api_token=Secret(TOKEN))
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpSink(target, client=client, poll_seconds=0.01, **options)


def test_actuals_job_is_polled_until_its_status_url_redirects() -> None:
    seen: list[str] = []
    running = httpx.Response(200, json={"status": "RUNNING"})
    sink = _job_sink([running, running, httpx.Response(303)], seen)
    result = sink.send([_actuals()])
    assert result.accepted == [0] and result.failure is None
    assert seen == [
        "POST /api/v2/deployments/d1/actuals/fromJSON/",
        *["GET /api/v2/status/job-7/"] * 3,
    ]


def test_actuals_job_that_ends_in_error_quarantines_its_records() -> None:
    seen: list[str] = []
    failed = httpx.Response(200, json={"status": "ERROR", "message": "column missing"})
    result = _job_sink([failed], seen).send([_actuals()])
    assert result.accepted == []
    assert "ended error" in result.rejected[0].reason
    assert "column missing" in result.rejected[0].reason


def test_actuals_job_still_running_after_the_wait_is_taken_as_accepted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    answers = [httpx.Response(200, json={"status": "running"}) for _ in range(100)]
    sink = _job_sink(answers, seen, actuals_wait_seconds=0.05)
    with caplog.at_level(logging.WARNING):
        result = sink.send([_actuals()])
    assert result.accepted == [0]
    assert "still running" in caplog.text
    assert TOKEN not in caplog.text
