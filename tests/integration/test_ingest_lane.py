"""The direct ingestion lane answers exactly as FastAPI's routes do.

Two services on two fresh SQLite stores get the same requests: one caches its token, so
plain ingestion POSTs take the direct lane (:mod:`spoolwatch.server.ingest_lane`); the other
caches nothing, so every request goes through FastAPI's routes. Status, body and
``Location`` must be the same for every request of DataRobot's library and for bad ones,
and the lane must really have answered the plain ones itself.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest

from spoolwatch.server import ingest_api as ingest
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.base import open_store
from spoolwatch.store.tokens import create_token
from tests.integration.test_server_api import DEP, DEP2, MODEL, MODEL2, fixture_requests

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

LIMIT = 2_000_000
STATS = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"
INPUTS = f"/api/v2/deployments/{DEP}/predictionInputs/fromJSON/"
ONE_STAT = {"data": [{"timestamp": "2026-11-24T10:00:00Z", "numPredictions": 3,
                      "executionTime": 12.5}]}  # fmt: skip


def _client(tmp_path: Path, name: str, cache_seconds: float) -> TestClient:
    store = open_store(f"sqlite:///{tmp_path / name}.db")
    _, token = create_token(store, "tests")
    settings = ServerSettings(
        cache_seconds=cache_seconds, alert_check_seconds=0.0, max_body_bytes=LIMIT
    )
    client = TestClient(create_app(store, settings=settings))
    client.headers["Authorization"] = f"Bearer {token}"
    for dep, model in ((DEP, MODEL), (DEP2, MODEL2)):
        body = {"id": dep, "modelId": model, "label": "t", "targetType": "regression",
                "targetName": "y"}  # fmt: skip
        assert client.post("/api/v2/deployments/", json=body).status_code == 201
    return client


def _cases(fixtures_dir: Path) -> list[tuple[str, bytes, dict[str, str]]]:
    cases = [(path, orjson.dumps(body), {}) for path, body in fixture_requests(fixtures_dir)]
    stats = orjson.dumps(ONE_STAT)
    cases += [
        (STATS, b'{"data": [', {}),  # not JSON
        (STATS, b'{"data": [{"timestamp": "2026-11-24T10:00:00Z"}]}', {}),  # fields missing
        (STATS, stats.replace(b"12.5", b'"slow"'), {}),  # wrong type
        (STATS, stats, {"X-Spoolwatch-Record-Items": "1,x"}),  # a bad header
        (STATS, stats, {"X-Spoolwatch-Record-Items": "2", "X-Spoolwatch-Record-Ids": "r1"}),
        (STATS.replace(DEP, "650a1b2c3d4e5f6a7b8c9dee"), stats, {}),  # unknown deployment
        (STATS.rstrip("/"), stats, {}),  # no trailing slash
        (INPUTS, b'{"data": []}', {}),
        (INPUTS, b"x" * (LIMIT + 1), {}),  # above the body limit
        (STATS, stats, {"Idempotency-Key": "k-1"}),
        (STATS, stats, {"Idempotency-Key": "k-1"}),  # replayed
        (STATS, stats, {"X-Spoolwatch-Record-Ids": "r2"}),
        (STATS, stats, {"X-Spoolwatch-Record-Ids": "r2"}),  # a record already ingested
    ]
    return cases


def _answer(client: TestClient, path: str, body: bytes, headers: dict[str, str]) -> Any:
    response = client.post(
        path,
        content=body,
        headers={"Content-Type": "application/json", **headers},
        follow_redirects=False,
    )
    location = response.headers.get("location")
    if location and "/status/" in location:  # a job id of its own service
        location = location.split("/status/")[0]
    return response.status_code, response.content, location


def test_the_lane_answers_as_the_routes_do(
    tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    routed = _client(tmp_path, "routed", cache_seconds=0.0)
    direct = _client(tmp_path, "direct", cache_seconds=600.0)
    calls: list[str] = []
    real = ingest._ingest

    async def counting(request: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(request.url.path)
        return await real(request, *args, **kwargs)

    monkeypatch.setattr(ingest, "_ingest", counting)
    cases = _cases(fixtures_dir)
    lane_refused = 0
    for path, body, headers in cases:
        before = len(calls)
        expected = _answer(routed, path, body, headers)
        routed_here = expected[0] not in {307, 413}  # refused before any route
        assert len(calls) == before + routed_here, path
        got = _answer(direct, path, body, headers)
        assert got == expected, (path, body[:80], headers)
        lane_refused += not routed_here
    # With the cached token, no plain POST reached the routes: every call counted came from
    # the routed service. The slash-less path and the oversized body went on to FastAPI.
    assert len(calls) == len(cases) - lane_refused
    assert lane_refused == 2


def test_an_uncached_token_goes_through_the_routes(tmp_path: Path) -> None:
    direct = _client(tmp_path, "direct", cache_seconds=600.0)
    direct.headers["Authorization"] = "Bearer not-a-token"
    response = direct.post(STATS, json=ONE_STAT)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    direct.headers.pop("Authorization")
    assert direct.post(STATS, json=ONE_STAT).status_code == 401


def test_a_cached_read_token_may_not_ingest(tmp_path: Path) -> None:
    direct = _client(tmp_path, "direct", cache_seconds=600.0)
    store = direct.app.state.store  # type: ignore[attr-defined]
    _, reader = create_token(store, "reader", scope="read")
    _, agent = create_token(store, "agent", scope="ingest")
    direct.headers["Authorization"] = f"Bearer {reader}"
    assert direct.get(f"/api/v2/deployments/{DEP}/serviceStats/").status_code == 200  # cached
    for _ in range(2):
        response = direct.post(STATS, json=ONE_STAT)
        assert response.status_code == 403, response.text
        assert "ingest" in response.text
    direct.headers["Authorization"] = f"Bearer {agent}"
    for _ in range(2):  # the first looks the token up, the second takes the lane
        assert direct.post(STATS, json=ONE_STAT).status_code == 202
