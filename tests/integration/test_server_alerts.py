# ruff: noqa: F811 - the fixtures imported from test_server_api are redefined as parameters
"""Alert webhooks: a real HTTP server on 127.0.0.1 receives them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.base import Store
from tests.integration.test_server_api import (  # noqa: F401 - fixtures
    DEP,
    MODEL,
    TestClient,
    _binary_rows,
    create_deployment,
    make_client,
    postgres_database,
    session_store,
    store,
    token,
)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """URL of a small HTTP server on 127.0.0.1 and the JSON bodies it received."""
    received: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def _client(store: Store, token: str, url: str, **settings: Any) -> TestClient:
    c = make_client(store, webhook_url=url, **settings)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def _requests(client: TestClient, at: datetime, ok: int, failed: int) -> None:
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.000+0000")
    items = [
        {
            "timestamp": stamp,
            "modelId": MODEL,
            "numPredictions": 1,
            "executionTime": 5.0,
            "systemError": i < failed,
        }
        for i in range(ok + failed)
    ]
    response = client.post(
        f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/", json={"data": items}
    )
    assert response.status_code == 202


T0 = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


def test_alert_is_posted_once_per_period_and_status_change(
    store: Store, token: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    client = _client(store, token, url, alert_period_seconds=3600, alert_window_seconds=3600)
    create_deployment(client)
    alerts = client.app.state.alerts  # type: ignore[attr-defined]
    now = T0.timestamp()
    _requests(client, T0, ok=90, failed=10)  # 10 % failed: yellow
    assert [a["status"] for a in alerts.evaluate(DEP, now=now)] == ["yellow"]
    assert alerts.evaluate(DEP, now=now + 60) == []  # same status, same period: nothing
    _requests(client, T0, ok=0, failed=100)  # now 110 of 200 failed: red
    assert [a["status"] for a in alerts.evaluate(DEP, now=now + 120)] == ["red"]
    assert alerts.evaluate(DEP, now=now + 180) == []
    assert [(a["check"], a["status"], a["previousStatus"]) for a in received] == [
        ("service", "yellow", None),
        ("service", "red", "yellow"),
    ]
    assert received[0]["deploymentId"] == DEP and received[0]["summary"]["totalRequests"] == 100
    # the next period reports the still-red deployment once more
    next_period = now + 3600
    _requests(client, datetime.fromtimestamp(next_period, UTC), ok=0, failed=5)
    assert [a["status"] for a in alerts.evaluate(DEP, now=next_period)] == ["red"]
    assert len(received) == 3


def test_green_deployment_posts_nothing(
    store: Store, token: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    client = _client(store, token, url)
    create_deployment(client)
    _requests(client, T0, ok=100, failed=0)
    assert client.app.state.alerts.evaluate(DEP, now=T0.timestamp()) == []  # type: ignore[attr-defined]
    assert received == []


def test_failed_webhook_is_retried_at_the_next_evaluation(
    store: Store, token: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    client = _client(store, token, "http://127.0.0.1:9/unreachable")
    create_deployment(client)
    _requests(client, T0, ok=0, failed=10)
    alerts = client.app.state.alerts  # type: ignore[attr-defined]
    assert alerts.evaluate(DEP, now=T0.timestamp()) == []
    alerts.settings = ServerSettings(webhook_url=url)
    assert [a["status"] for a in alerts.evaluate(DEP, now=T0.timestamp())] == ["red"]
    assert len(received) == 1


def test_ingestion_triggers_the_alert(
    store: Store, token: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    client = _client(store, token, url)
    create_deployment(client)
    _requests(client, datetime.now(UTC), ok=1, failed=9)
    client.app.state.alerts.flush()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(a["check"], a["status"]) for a in received] == [("service", "red")]


def test_accuracy_falling_below_its_reference_posts_an_accuracy_alert(
    store: Store, token: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    client = _client(store, token, url, accuracy_reference_rows=200)
    create_deployment(client, targetType="binary", targetName="label", classNames=["no", "yes"])
    alerts = client.app.state.alerts  # type: ignore[attr-defined]
    _binary_rows(client, T0 - timedelta(hours=5), 180, 20, "early")  # reference: 90 %
    _binary_rows(client, T0, 180, 20, "same")
    assert alerts.evaluate(DEP, now=T0.timestamp()) == []
    _binary_rows(client, T0, 40, 160, "bad")  # the hour now at 55 %
    sent = alerts.evaluate(DEP, now=T0.timestamp() + 60)
    assert [(a["check"], a["status"]) for a in sent] == [("accuracy", "red")]
    summary = received[-1]["summary"]
    assert summary["metric"] == "accuracy" and summary["baselineValue"] == pytest.approx(0.9)
    assert summary["value"] == pytest.approx(220 / 400) and summary["sampleSize"] == 400
