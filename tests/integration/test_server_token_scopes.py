"""Token scopes on the real service app, on SQLite and on PostgreSQL: every API route needs
``ingest``, ``read`` or ``admin`` (``admin`` may do everything), and a token without the
scope gets a 403 that names both."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.base import Store
from spoolwatch.store.tokens import TokenScope, create_token
from tests.databases import empty_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"

#: What agents call: ingestion, upload status, heartbeats, known record ids.
INGEST_ROUTES = {
    ("POST", "/api/v2/deployments/{deployment_id}/predictionRequests/fromJSON/"),
    ("POST", "/api/v2/deployments/{deployment_id}/predictionInputs/fromJSON/"),
    ("POST", "/api/v2/deployments/{deployment_id}/predictionStats/fromJSON/"),
    ("POST", "/api/v2/deployments/{deployment_id}/actuals/fromJSON/"),
    ("POST", "/api/v2/deployments/{deployment_id}/customMetrics/{metric_id}/fromJSON/"),
    ("POST", "/api/v2/remoteEvents/"),
    ("GET", "/api/v2/status/{status_id}/"),
    ("POST", "/api/v2/spoolwatch/agents/heartbeat/"),
    ("POST", "/api/v2/spoolwatch/records/known/"),
}
ADMIN_ROUTES = {
    ("POST", "/api/v2/deployments/"),
    ("POST", "/api/v2/deployments/fromTrainingData/"),
    ("DELETE", "/api/v2/deployments/{deployment_id}/"),
    ("GET", "/api/v2/spoolwatch/tokens/"),
    ("POST", "/api/v2/spoolwatch/tokens/"),
    ("DELETE", "/api/v2/spoolwatch/tokens/{id_or_name}/"),
}
ANY_SCOPE_ROUTES = {("GET", "/api/v2/version/")}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    directory = tmp_path_factory.mktemp("scopes")
    with empty_store(request, directory, request.param, "scopes") as opened:
        yield opened


@pytest.fixture(scope="module")
def clients(store: Store) -> dict[TokenScope, TestClient]:
    app = create_app(store, settings=ServerSettings(cache_seconds=0.0))
    out = {}
    for scope in TokenScope:
        client = TestClient(app, raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {create_token(store, scope.value, scope)[1]}"
        out[scope] = client
    return out


def _api_routes(client: TestClient) -> list[tuple[str, str]]:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if path.startswith("/api/") or path == "/metrics"
    )


def _needed(route: tuple[str, str]) -> TokenScope | None:
    if route in ANY_SCOPE_ROUTES:
        return None
    if route in INGEST_ROUTES:
        return TokenScope.INGEST
    if route in ADMIN_ROUTES:
        return TokenScope.ADMIN
    return TokenScope.READ


def _call(client: TestClient, method: str, path: str) -> Any:
    url = re.sub(r"\{deployment_id\}", DEP, path)
    url = re.sub(r"\{[a-z_]+\}", "x", url)
    return client.request(method, url, json={} if method in {"POST", "PUT", "PATCH"} else None)


def test_every_api_route_needs_its_scope_and_admin_may_call_all(
    clients: dict[TokenScope, TestClient],
) -> None:
    routes = _api_routes(clients[TokenScope.ADMIN])
    assert set(routes) >= INGEST_ROUTES | ADMIN_ROUTES | ANY_SCOPE_ROUTES
    for method, path in routes:
        needed = _needed((method, path))
        for scope, client in clients.items():
            response = _call(client, method, path)
            if needed is None or scope.allows(needed):
                assert response.status_code not in (401, 403), (scope, method, path)
            else:
                assert response.status_code == 403, (scope, method, path, response.text)
                assert response.json()["detail"].startswith(
                    f"this token has scope {scope.value}; {method} {path} needs {needed.value}"
                )


def test_agent_token_can_send_records_but_not_delete_the_deployment(
    clients: dict[TokenScope, TestClient],
) -> None:
    admin, ingest, read = (
        clients[TokenScope.ADMIN],
        clients[TokenScope.INGEST],
        clients[TokenScope.READ],
    )
    admin.delete(f"/api/v2/deployments/{DEP}/")
    body = {"id": DEP, "modelId": MODEL, "targetType": "regression", "targetName": "y"}
    assert admin.post("/api/v2/deployments/", json=body).status_code == 201
    item = {"timestamp": "2026-11-24 10:00:00.000+0000", "numPredictions": 3, "executionTime": 1.0}
    stats = {"data": [item]}
    sent = ingest.post(f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/", json=stats)
    assert sent.status_code == 202, sent.text
    refused = ingest.delete(f"/api/v2/deployments/{DEP}/")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(
        "this token has scope ingest; DELETE /api/v2/deployments/{deployment_id}/ needs admin"
    )
    assert read.get(f"/api/v2/deployments/{DEP}/").status_code == 200
    assert read.delete(f"/api/v2/deployments/{DEP}/").status_code == 403
    assert admin.delete(f"/api/v2/deployments/{DEP}/").status_code == 204


def test_invalid_token_is_still_401_before_any_scope(
    clients: dict[TokenScope, TestClient],
) -> None:
    client = clients[TokenScope.ADMIN]
    bad = {"Authorization": "Bearer sw_not-a-token"}
    assert client.delete(f"/api/v2/deployments/{DEP}/", headers=bad).status_code == 401
    assert client.get("/api/v2/version/", headers=bad).status_code == 401
