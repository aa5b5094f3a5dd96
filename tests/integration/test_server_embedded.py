# ruff: noqa: F811 - the fixtures imported from test_server_api are redefined as parameters
"""The embedded mode: DataRobot's spooled records folded through the StoreSink protocol."""

from __future__ import annotations

from pathlib import Path

from spoolwatch.records import ROUTABLE_TYPES, Record, decode_json
from spoolwatch.server.embedded import EmbeddedIngest
from spoolwatch.server.outcomes import list_events
from spoolwatch.server.periods import resolve_period
from spoolwatch.server.query import service_stats
from spoolwatch.server.settings import ServerSettings
from spoolwatch.sinks.store import RecordIngest, StoreSink
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import create_deployment, get_deployment
from tests.integration.test_server_api import (  # noqa: F401 - fixtures
    DEP,
    DEP2,
    MODEL,
    MODEL2,
    postgres_database,
    session_store,
    store,
)


def _records(fixtures_dir: Path) -> list[Record]:
    lines = (fixtures_dir / "fs_json" / "fs_spool.1").read_bytes().splitlines()
    records = [decode_json(line) for line in lines if line.strip()]
    return [r for r in records if r.known_type in ROUTABLE_TYPES]


def _deployments(store: Store) -> None:
    for dep, model in ((DEP, MODEL), (DEP2, MODEL2)):
        create_deployment(
            store, Deployment(id=dep, name="d", model_id=model, target_type="regression")
        )


def _stats(store: Store) -> dict[str, int]:
    deployment = get_deployment(store, DEP)
    assert deployment is not None
    period = resolve_period(None, None, default_span=400 * 24 * 3600)
    metrics = service_stats(store, deployment, period, None, ServerSettings())["metrics"]
    events = list_events(store, deployment, period, None, 100, 0)
    return {
        "requests": metrics["totalRequests"],
        "predictions": metrics["totalPredictions"],
        "events": events["count"],
    }


def test_store_sink_folds_datarobots_records_once(store: Store, fixtures_dir: Path) -> None:
    _deployments(store)
    ingest = EmbeddedIngest(store)
    assert isinstance(ingest, RecordIngest)
    sink = StoreSink(ingest)
    records = _records(fixtures_dir)
    result = sink.send(records)
    assert result.failure is None
    # the features-only record and the time-series one are valid too: nothing is refused
    assert result.rejected == {}
    assert sorted(result.accepted) == list(range(len(records)))
    first = _stats(store)
    assert first == {"requests": 2, "predictions": 13, "events": 2}
    again = sink.send(records)  # redelivery: accepted, nothing counted twice
    assert sorted(again.accepted) == list(range(len(records)))
    assert _stats(store) == first


def test_record_for_an_unknown_deployment_is_refused_with_the_reason(
    store: Store, fixtures_dir: Path
) -> None:
    sink = StoreSink(EmbeddedIngest(store))
    records = _records(fixtures_dir)[:1]
    result = sink.send(records)
    assert list(result.rejected) == [0]
    assert "not found" in result.rejected[0].reason


def test_heartbeat_reaches_the_fleet(store: Store) -> None:
    from spoolwatch.server.heartbeats_api import fleet_state

    sink = StoreSink(EmbeddedIngest(store))
    assert sink.heartbeat({"agentId": "a-1", "backlog": {"fs": 3}, "recordsPerSecond": 1.0})
    fleet = fleet_state(store, 60)
    assert [a["agentId"] for a in fleet["data"]] == ["a-1"]
