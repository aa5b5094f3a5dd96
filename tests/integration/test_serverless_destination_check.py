"""The Lambda agent's start-up destination check against a real ``spoolwatch serve`` (auth
on) and a DataRobot stand-in: an ingest-only token passes it and drains the queue, a token
that may only read is refused before a record is received, and DataRobot is asked only what
any valid token may ask."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from spoolwatch.scaling import FailureKind
from spoolwatch.serverless.aws import RecruitMessage
from spoolwatch.serverless.destination import check_destination
from spoolwatch.sinks.config import TargetConfig
from spoolwatch.sinks.secrets import Secret
from tests.integration.lambda_harness import FakeContext, monotonic_deadline
from tests.integration.test_serverless_e2e import DEPLOYMENT, MODEL, Stack, stack  # noqa: F401
from tests.service_process import direct_token, running_service

DATAROBOT_TOKEN = "dr-token-of-a-user-without-any-special-role"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """``spoolwatch serve`` with auth on; its URL and one token per scope (and the deployment
    the stack reports to, made with the admin token)."""
    db = f"sqlite:///{Path(tmp_path_factory.mktemp('check')) / 'service.db'}"
    tokens = {scope: direct_token(db, f"{scope}-user", scope) for scope in ("ingest", "read")}
    tokens["admin"] = direct_token(db, "admin-user", "admin")
    with running_service(db, tokens["admin"]) as url:
        body = {"id": DEPLOYMENT, "modelId": MODEL, "label": "lambda", "targetType": "regression"}
        made = httpx.post(
            f"{url}/api/v2/deployments/",
            json=body,
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
        assert made.status_code == 201, made.text
        yield url, tokens


def _target(url: str, token: str, kind: str = "spoolwatch") -> TargetConfig:
    return TargetConfig(
        url=url, api_token=Secret(token, source="env:SPOOLWATCH_API_TOKEN"), kind=kind
    )


@pytest.mark.parametrize("scope", ["ingest", "admin"])
def test_check_passes_an_ingest_or_admin_token_of_the_service(
    service: tuple[str, dict[str, str]], scope: str
) -> None:
    url, tokens = service
    assert check_destination(_target(url, tokens[scope])) is None


def test_check_refuses_a_read_token_with_the_services_reason(
    service: tuple[str, dict[str, str]],
) -> None:
    url, tokens = service
    problem = check_destination(_target(url, tokens["read"]))
    assert problem is not None and problem.kind is FailureKind.AUTH_ERROR
    assert f"POST {url}/api/v2/spoolwatch/records/known/: HTTP 403" in problem.reason
    assert "this token has scope read" in problem.reason and "needs ingest" in problem.reason
    assert "(env:SPOOLWATCH_API_TOKEN)" in problem.reason and "--scope ingest" in problem.reason
    assert tokens["read"] not in problem.reason


def test_check_refuses_a_token_the_service_never_issued(
    service: tuple[str, dict[str, str]],
) -> None:
    url, _ = service
    problem = check_destination(_target(url, "sw_never-issued"))
    assert problem is not None and problem.kind is FailureKind.AUTH_ERROR
    assert "HTTP 401" in problem.reason and "invalid or revoked API token" in problem.reason


class _DataRobot(BaseHTTPRequestHandler):
    """DataRobot as far as the check goes: ``GET /api/v2/version/`` answers any valid token,
    every other call here needs a role the token lacks."""

    seen: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _answer(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        valid = self.headers.get("Authorization") == f"Bearer {DATAROBOT_TOKEN}"
        if not valid:
            status, body = 401, b'{"message": "Invalid API key"}'
        elif self.command == "GET" and self.path == "/api/v2/version/":
            status, body = 200, b'{"major": 2, "minor": 33, "versionString": "2.33.0"}'
        else:
            status, body = 403, b'{"message": "This action requires a role you lack"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture
def datarobot() -> Iterator[str]:
    _DataRobot.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DataRobot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_datarobot_is_asked_only_for_its_version_which_any_valid_token_may_read(
    datarobot: str,
) -> None:
    assert check_destination(_target(datarobot, DATAROBOT_TOKEN, "datarobot")) is None
    problem = check_destination(_target(datarobot, "wrong", "datarobot"))
    assert problem is not None and problem.kind is FailureKind.AUTH_ERROR
    assert 'said "Invalid API key"' in problem.reason
    assert "may write to the deployment named in the URL" in problem.reason
    assert _DataRobot.seen == ["GET /api/v2/version/"] * 2


def _known(url: str, token: str, ids: set[str]) -> set[str]:
    """The ids of ``ids`` the service has stored."""
    answer = httpx.post(
        f"{url}/api/v2/spoolwatch/records/known/",
        json={"recordIds": sorted(ids)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return set(answer.json()["known"])


@pytest.mark.aws
def test_lambda_agent_with_an_ingest_only_token_drains_the_queue(
    stack: Stack,  # noqa: F811
    service: tuple[str, dict[str, str]],
) -> None:
    url, tokens = service
    worker = stack.worker(
        SPOOLWATCH_DESTINATION_URL=url,
        SPOOLWATCH_API_TOKEN=tokens["ingest"],
        SPOOLWATCH_TARGET_CONCURRENCY="1",
    )
    written = stack.fill(rows=250)  # 10 records
    context = FakeContext("agent-ingest", monotonic_deadline(30.0))
    outcome = worker.on_recruit(RecruitMessage("recruit"), context)
    assert outcome.result is not None and outcome.result.stopped_by == "empty"
    assert outcome.result.records_sent == 10 and stack.backlog() == 0
    assert _known(url, tokens["ingest"], written) == written


@pytest.mark.aws
def test_lambda_agent_with_a_read_token_takes_no_record(
    stack: Stack,  # noqa: F811
    service: tuple[str, dict[str, str]],
) -> None:
    url, tokens = service
    worker = stack.worker(
        SPOOLWATCH_DESTINATION_URL=url,
        SPOOLWATCH_API_TOKEN=tokens["read"],
        SPOOLWATCH_TARGET_CONCURRENCY="1",
    )
    written = stack.fill(rows=250)
    context = FakeContext("agent-read", monotonic_deadline(30.0))
    outcome = worker.on_recruit(RecruitMessage("recruit"), context)
    assert outcome.why == "destination_not_ready" and outcome.result is None
    assert stack.backlog() == len(written)
    attributes = stack.sqs.receive_message(
        QueueUrl=stack.data_queue_url,
        MaxNumberOfMessages=1,
        AttributeNames=["ApproximateReceiveCount"],
    )["Messages"][0]["Attributes"]
    # Received by fill's peek and by this look only: the agent took none towards the DLQ.
    assert attributes["ApproximateReceiveCount"] == "2"
