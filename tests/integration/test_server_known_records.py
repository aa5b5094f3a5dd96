# ruff: noqa: F811 - the fixtures imported from test_server_api are redefined as parameters
"""``POST /api/v2/spoolwatch/records/known/``: which records the service already has, on
SQLite and PostgreSQL; and the embedded mode's answer to the same question."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from spoolwatch.records import DataType, Record
from spoolwatch.server.embedded import EmbeddedIngest
from spoolwatch.server.ingestion import Ingestor
from spoolwatch.sinks.store import StoreSink
from spoolwatch.store import schema
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import create_deployment as store_deployment
from tests.integration.test_server_api import (  # noqa: F401 - fixtures
    DEP,
    DEP2,
    MODEL,
    MODEL2,
    TestClient,
    client,
    create_deployment,
    make_client,
    postgres_database,
    session_store,
    store,
    token,
)

KNOWN = "/api/v2/spoolwatch/records/known/"


def _stats(n: int, model: str = MODEL) -> dict[str, Any]:
    return {
        "data": [
            {
                "timestamp": "2026-11-24 10:15:00.000+0000",
                "modelId": model,
                "numPredictions": n,
                "executionTime": 10.0,
            }
        ]
    }


def _ingest(client: TestClient, dep: str, model: str, ids: str) -> None:
    response = client.post(
        f"/api/v2/deployments/{dep}/predictionRequests/fromJSON/",
        json=_stats(len(ids), model),
        headers={"X-Spoolwatch-Record-Ids": ids},
    )
    assert response.status_code == 202, response.text


def _ingested_rows(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.ingested_records)).one()[0])


def test_known_records_are_the_ingested_ids_of_any_deployment_in_the_order_asked(
    client: TestClient,
) -> None:
    create_deployment(client)
    create_deployment(client, DEP2, MODEL2)
    _ingest(client, DEP, MODEL, "r1,r2")
    _ingest(client, DEP2, MODEL2, "r3")
    response = client.post(KNOWN, json={"recordIds": ["r3", "nope", "r1", "r1", "also-new"]})
    assert response.status_code == 200, response.text
    assert response.json() == {"known": ["r3", "r1"]}


def test_unknown_records_are_not_known_and_asking_writes_nothing(
    client: TestClient, store: Store
) -> None:
    create_deployment(client)
    _ingest(client, DEP, MODEL, "old")
    before = _ingested_rows(store)
    response = client.post(KNOWN, json={"recordIds": ["fresh-1", "fresh-2"]})
    assert response.status_code == 200 and response.json() == {"known": []}
    assert _ingested_rows(store) == before
    # Asking did not make them known: their first ingestion is folded, not a duplicate.
    again = client.post(
        f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/",
        json=_stats(5),
        headers={"X-Spoolwatch-Record-Ids": "fresh-1"},
    )
    assert again.status_code == 202 and again.json()["duplicate"] is False


def test_a_thousand_ids_are_answered_in_one_question(client: TestClient) -> None:
    create_deployment(client)
    _ingest(client, DEP, MODEL, "id-0,id-999")
    ids = [f"id-{i}" for i in range(1000)]
    response = client.post(KNOWN, json={"recordIds": ids})
    assert response.status_code == 200 and response.json() == {"known": ["id-0", "id-999"]}


def test_pruned_record_ids_are_no_longer_known(client: TestClient, store: Store) -> None:
    create_deployment(client)
    _ingest(client, DEP, MODEL, "r1")
    assert client.post(KNOWN, json={"recordIds": ["r1"]}).json() == {"known": ["r1"]}
    Ingestor(store, retention_seconds=0).prune(now=4e9)
    assert client.post(KNOWN, json={"recordIds": ["r1"]}).json() == {"known": []}


def test_known_records_need_a_valid_token(store: Store, token: str) -> None:
    c = make_client(store)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = c.post(KNOWN, json={"recordIds": ["r1"]}, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    ok = c.post(KNOWN, json={"recordIds": ["r1"]}, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "recordIds"]),
        ({"recordIds": []}, ["body", "recordIds"]),
        ({"recordIds": "r1"}, ["body", "recordIds"]),
        ({"recordIds": ["x"] * 1001}, ["body", "recordIds"]),
        ({"recordIds": ["ok", ""]}, ["body", "recordIds", 1]),
        ({"recordIds": ["x" * 201]}, ["body", "recordIds", 0]),
        ({"recordIds": [7]}, ["body", "recordIds", 0]),
        ({"recordIds": ["nul\u0000"]}, ["body", "recordIds", 0]),
        (["r1"], ["body"]),
    ],
)
def test_bad_question_is_422_naming_the_field(
    client: TestClient, body: Any, loc: list[Any]
) -> None:
    response = client.post(KNOWN, json=body)
    assert response.status_code == 422, response.text
    assert [detail["loc"] for detail in response.json()["detail"]] == [loc]


def test_ids_of_200_characters_are_taken(client: TestClient) -> None:
    create_deployment(client)
    long_id = "k" * 200
    _ingest(client, DEP, MODEL, long_id)
    response = client.post(KNOWN, json={"recordIds": [long_id, "m" * 200]})
    assert response.status_code == 200 and response.json() == {"known": [long_id]}


def test_openapi_documents_the_question(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"][KNOWN]["post"]
    assert "200" in operation["responses"] and "422" in operation["responses"]


# ------------------------------------------------------------------------- embedded mode


def _record() -> Record:
    return Record.new(
        DataType.DEPLOYMENT_STATS,
        DEP,
        {
            "timestamp": "2026-11-24 10:15:00.000+0000",
            "modelId": MODEL,
            "numPredictions": 1,
            "executionTime": 1.0,
        },
    )


def test_store_sink_knows_the_records_it_stored(store: Store) -> None:
    store_deployment(store, Deployment(id=DEP, name="d", model_id=MODEL, target_type="regression"))
    sink = StoreSink(EmbeddedIngest(store))
    stored, other = _record(), _record()
    ids = [str(stored.id), str(other.id)]
    assert sink.known_record_ids(ids) == set()
    assert sink.send([stored]).accepted == [0]
    assert sink.known_record_ids(ids) == {stored.id}


def test_store_sink_that_cannot_read_the_store_knows_nothing(tmp_path: Any) -> None:
    from spoolwatch.store.base import open_store

    broken = open_store(f"sqlite:///{tmp_path / 'gone.db'}")
    ingest = EmbeddedIngest(broken)
    broken.engine.dispose()
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # no database can be opened there any more
    assert StoreSink(ingest).known_record_ids(["a"]) == set()
