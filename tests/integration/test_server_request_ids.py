"""Request ids: ``X-Request-ID`` kept when sane, made otherwise, echoed on every response, and
named by the log lines written while the request is answered (never by the group-commit
writer's, which serve many requests)."""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from spoolwatch.logs import JsonFormatter, deployment_id, request_id
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.server.writer import INLINE_PREPARE_BYTES
from spoolwatch.store.base import open_store
from spoolwatch.store.tokens import create_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

DEP = "650a1b2c3d4e5f6a7b8c9d01"
MODEL = "650a1b2c3d4e5f6a7b8c9d02"
STATS = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"
ONE_STAT = {"timestamp": "2026-11-24T10:00:00Z", "numPredictions": 3, "executionTime": 12.5}
MADE = re.compile(r"[0-9a-f]{32}")


class _Lines(logging.Handler):
    """Every record of the ``spoolwatch`` loggers, formatted as the service writes JSON."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.entries: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entries.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[_Lines]:
    handler = _Lines()
    logger = logging.getLogger("spoolwatch")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(saved)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[TestClient, FastAPI, str]]:
    store = open_store(f"sqlite:///{tmp_path / 'ids.db'}")
    _, token = create_token(store, "tests")
    app = create_app(store, settings=ServerSettings(cache_seconds=60.0, alert_check_seconds=0.0))
    app.add_api_route("/api/v2/deployments/{dep}/logs-a-line/", _log_sync, methods=["GET"])
    app.add_api_route("/probe/logs-a-line/", _log_async, methods=["GET"])
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        body = {"id": DEP, "modelId": MODEL, "label": "t", "targetType": "regression",
                "targetName": "y"}  # fmt: skip
        assert client.post("/api/v2/deployments/", json=body).status_code == 201
        yield client, app, token


def _log_sync(dep: str) -> dict[str, str]:
    # A sync route runs on a worker thread: the request's context goes with it.
    logging.getLogger("spoolwatch.tests").info("handling %s", dep)
    return {}


async def _log_async() -> dict[str, str]:
    logging.getLogger("spoolwatch.tests").info("handling the probe")
    return {}


def _stats(client: TestClient, **headers: str | bytes) -> Any:
    response = client.post(STATS, content=orjson.dumps({"data": [ONE_STAT]}), headers=headers)
    assert response.status_code == 202, response.text
    return response


@pytest.mark.parametrize("given", ["agent-1-0123456789ab", "a", "x" * 128, "Trace.01:_-z"])
def test_a_sane_request_id_is_echoed_by_fastapi_and_by_the_ingestion_lane(
    service: tuple[TestClient, FastAPI, str], given: str
) -> None:
    client, _app, _token = service
    assert (
        client.get("/api/v2/version/", headers={"X-Request-ID": given}).headers["x-request-id"]
        == given
    )
    assert _stats(client, **{"X-Request-ID": given}).headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given", [None, "", "x" * 129, "has space", "new\\nline", 'quote"d', "semi;colon", "é".encode()]
)
def test_a_missing_or_insane_request_id_is_replaced_by_a_new_one(
    service: tuple[TestClient, FastAPI, str], given: str | bytes | None
) -> None:
    client, _app, _token = service
    headers = {} if given is None else {"X-Request-ID": given}
    seen = set()
    for response in (client.get("/api/v2/version/", headers=headers), _stats(client, **headers)):
        made = response.headers["x-request-id"]
        assert MADE.fullmatch(made), made
        seen.add(made)
    assert len(seen) == 2  # one per request


def test_refusals_and_unknown_paths_carry_the_request_id_too(
    service: tuple[TestClient, FastAPI, str],
) -> None:
    client, _app, _token = service
    for response in (
        client.get("/api/v2/deployments/", headers={"Authorization": "Bearer nope",
                                                    "X-Request-ID": "r-401"}),
        client.get("/no/such/path", headers={"X-Request-ID": "r-404"}),
        client.post(STATS, content=b'{"data": [', headers={"X-Request-ID": "r-422"}),
    ):  # fmt: skip
        assert response.headers["x-request-id"] == f"r-{response.status_code}"


def test_a_line_logged_while_answering_names_the_request_and_its_deployment(
    service: tuple[TestClient, FastAPI, str], lines: _Lines
) -> None:
    client, _app, _token = service
    client.get(f"/api/v2/deployments/{DEP}/logs-a-line/", headers={"X-Request-ID": "req-1"})
    client.get("/probe/logs-a-line/", headers={"X-Request-ID": "req-2"})
    handled = [e for e in lines.entries if e["logger"] == "spoolwatch.tests"]
    assert handled[0]["message"] == f"handling {DEP}"
    assert (handled[0]["request_id"], handled[0]["deployment_id"]) == ("req-1", DEP)
    assert handled[1]["request_id"] == "req-2"
    assert "deployment_id" not in handled[1]


def test_group_commit_lines_name_no_request_while_preparing_a_large_body_names_its_own(
    service: tuple[TestClient, FastAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app, _token = service
    ingestor = app.state.ingestor
    committed: list[tuple[str | None, str | None]] = []
    prepared: list[str | None] = []
    after = ingestor.on_ingested
    prepare = ingestor.prepare

    def on_ingested(result: Any) -> None:  # runs on the writer's thread, after the commit
        committed.append((request_id.get(), deployment_id.get()))
        after(result)

    def preparing(*args: Any, **kwargs: Any) -> Any:
        prepared.append(request_id.get())
        return prepare(*args, **kwargs)

    monkeypatch.setattr(ingestor, "on_ingested", on_ingested)
    monkeypatch.setattr(ingestor, "prepare", preparing)
    _stats(client, **{"X-Request-ID": "small-1"})
    rows = INLINE_PREPARE_BYTES // len(orjson.dumps(ONE_STAT)) + 10
    big = orjson.dumps({"data": [ONE_STAT] * rows})
    assert len(big) > INLINE_PREPARE_BYTES
    response = client.post(STATS, content=big, headers={"X-Request-ID": "large-1"})
    assert response.status_code == 202
    assert prepared == ["small-1", "large-1"]  # on the loop, then on a preparation thread
    assert committed == [(None, None), (None, None)]
