"""``/healthz`` and ``/readyz``: no token, 200 when the service can work, 503 naming what
is wrong (never the database's address), and answered while ingestion keeps the service
busy."""

from __future__ import annotations

import logging
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete

from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store import schema
from spoolwatch.store.base import Store
from spoolwatch.store.engine import create_engine
from spoolwatch.store.migrations import MIGRATIONS
from spoolwatch.store.tokens import create_token
from tests.databases import empty_store
from tests.service_process import running_service, service_process

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

LATEST = max(m.version for m in MIGRATIONS)
_BODY = {
    "data": [
        {
            "timestamp": "2026-12-07T10:00:00Z",
            "features": [{"name": "x", "values": [float(n) for n in range(10)]}],
            "predictions": [0.5] * 10,
        }
    ]
}
_TRAINING = {"x": [1.0, 2.0, 3.0, 4.0] * 5, "y": [0.1, 0.2, 0.3, 0.4] * 5}
_DEPLOYMENT = {"targetType": "regression", "targetName": "y", "trainingData": _TRAINING}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with empty_store(request, tmp_path, request.param, "probes") as opened:
        yield opened


def test_both_probes_answer_200_without_a_token(store: Store) -> None:
    client = TestClient(create_app(store, settings=ServerSettings(cache_seconds=0.0)))
    assert client.get("/api/v2/deployments/").status_code == 401  # token checks are on
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}


def test_schema_behind_this_release_is_not_ready_naming_both_versions(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(create_app(store, settings=ServerSettings(auth=False)))
    with store.write() as conn:
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version == LATEST))
    with caplog.at_level(logging.WARNING, logger="spoolwatch.server.probes"):
        first = client.get("/readyz")
        client.get("/readyz")
    assert first.status_code == 503
    assert first.json()["problems"] == [
        f"the database schema is at version {LATEST - 1}; this release needs {LATEST}"
    ]
    assert client.get("/healthz").status_code == 200  # alive, only not ready
    warnings = [r for r in caplog.records if r.name == "spoolwatch.server.probes"]
    assert len(warnings) == 1  # logged when it changed, not at every probe


def test_unreachable_database_is_not_ready_and_names_no_address() -> None:
    down = Store(create_engine("postgresql://postgres@127.0.0.1:9/none", pool_pre_ping=False))
    client = TestClient(create_app(down, settings=ServerSettings(auth=False)))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["the database is unavailable"]
    assert "127.0.0.1" not in response.text and "postgres" not in response.text
    assert client.get("/healthz").status_code == 200


def test_a_stopped_ingest_writer_is_not_ready(store: Store) -> None:
    app = create_app(store, settings=ServerSettings(auth=False))
    client = TestClient(app)
    assert client.get("/readyz").status_code == 200
    app.state.writer.close()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["the ingest writer is stopping"]


def test_probes_answer_while_agents_keep_the_service_busy(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'busy.db'}"
    setup = Store(create_engine(db))
    setup.migrate()
    token = create_token(setup, "probe")[1]
    setup.close()
    headers = {"Authorization": f"Bearer {token}"}
    with running_service(db, token, no_tracebacks=True) as url:
        dep = "650a1b2c3d4e5f6a7b8c9d0e"
        created = httpx.post(
            f"{url}/api/v2/deployments/", json=_DEPLOYMENT | {"id": dep}, headers=headers
        )
        assert created.status_code == 201, created.text
        stop = threading.Event()
        sent: list[int] = []

        def agent() -> None:
            with httpx.Client(headers=headers, timeout=30) as client:
                while not stop.is_set():
                    path = f"{url}/api/v2/deployments/{dep}/predictionInputs/fromJSON/"
                    sent.append(client.post(path, json=_BODY).status_code)

        agents = [threading.Thread(target=agent) for _ in range(8)]
        for thread in agents:
            thread.start()
        try:
            answers = [httpx.get(f"{url}/readyz", timeout=30) for _ in range(20)]
            alive = [httpx.get(f"{url}/healthz", timeout=30) for _ in range(20)]
        finally:
            stop.set()
            for thread in agents:
                thread.join()
        assert [a.status_code for a in answers + alive] == [200] * 40
        assert sent and set(sent) == {202}
        # Every accepted request was folded.
        period = {"start": "2026-12-07T00:00:00Z", "end": "2026-12-08T00:00:00Z"}
        drift = httpx.get(
            f"{url}/api/v2/deployments/{dep}/featureDrift/", params=period, headers=headers
        ).json()
        assert drift["data"][0]["sampleSize"] == 10 * len(sent)


def test_sigterm_under_load_stores_every_accepted_request_and_refuses_the_rest_cleanly(
    tmp_path: Path,
) -> None:
    """SIGTERM while 8 clients send: the service stops accepting, finishes what it holds
    (and the shared transaction those requests wait on), and exits. Every 202 is stored;
    every other request met a refused or closed connection, which an agent retries."""
    db = f"sqlite:///{tmp_path / 'term.db'}"
    setup = Store(create_engine(db))
    setup.migrate()
    token = create_token(setup, "term")[1]
    setup.close()
    headers = {"Authorization": f"Bearer {token}"}
    dep = "650a1b2c3d4e5f6a7b8c9d0e"
    accepted: list[int] = []
    refused: list[str] = []
    with service_process(db, token, "--shutdown-timeout", "20") as (process, url):
        assert (
            httpx.post(
                f"{url}/api/v2/deployments/", json=_DEPLOYMENT | {"id": dep}, headers=headers
            ).status_code
            == 201
        )
        path = f"{url}/api/v2/deployments/{dep}/predictionInputs/fromJSON/"
        lock = threading.Lock()

        def agent() -> None:
            with httpx.Client(headers=headers, timeout=30) as client:
                while True:
                    try:
                        status = client.post(path, json=_BODY).status_code
                    except httpx.TransportError as exc:
                        with lock:
                            refused.append(type(exc).__name__)
                        return
                    with lock:
                        if status == 202:
                            accepted.append(status)
                        else:
                            refused.append(f"HTTP {status}")
                            return

        agents = [threading.Thread(target=agent) for _ in range(8)]
        for thread in agents:
            thread.start()
        deadline = time.monotonic() + 30
        while len(accepted) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        for thread in agents:
            thread.join(60)
        # uvicorn re-raises the signal once it has shut down, so the exit is SIGTERM's.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert len(accepted) >= 50
    assert refused and set(refused) <= {
        "ConnectError",
        "RemoteProtocolError",
        "ReadError",
        "HTTP 503",
    }
    with running_service(db, token) as url:
        period = {"start": "2026-12-07T00:00:00Z", "end": "2026-12-08T00:00:00Z"}
        drift = httpx.get(
            f"{url}/api/v2/deployments/{dep}/featureDrift/", params=period, headers=headers
        ).json()
    assert drift["data"][0]["sampleSize"] == 10 * len(accepted)
