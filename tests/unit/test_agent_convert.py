"""Record → REST conversion (spec §5.2) against DataRobot's captured requests, and merging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from spoolwatch.errors import InvalidRecord
from spoolwatch.records import DataType, Record, decode_json
from spoolwatch.sinks.rest_requests import convert_record, idempotency_key, merge_pieces


def _no_timestamps(value: Any) -> Any:
    # Timestamps differ between the spool run and the API run; the structure does not.
    if isinstance(value, dict):
        return {k: (None if k == "timestamp" else _no_timestamps(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_timestamps(v) for v in value]
    return value


def _records(fixtures_dir: Path, name: str) -> list[Record]:
    with open(fixtures_dir / name / "fs_spool.1", "rb") as spool:
        return [decode_json(line) for line in spool]


def test_each_fixture_record_converts_to_the_request_datarobot_sent(fixtures_dir: Path) -> None:
    captured = json.loads((fixtures_dir / "api" / "http_requests.json").read_text())
    expected = [r for r in captured if r["simulated_status"] == 202 and "body_parsed" in r]
    records = [r for r in _records(fixtures_dir, "fs_json") if r.data_type != DataType.PING_MSG]
    assert len(records) == 19
    for record, want in zip(records, expected, strict=False):
        (request,) = merge_pieces([(0, convert_record(record))], max_bytes=10**6, max_records=100)
        assert want["url"].endswith("/api/v2/" + request.path)
        assert _no_timestamps(orjson.loads(request.body)) == _no_timestamps(want["body_parsed"])


def test_time_series_fields_move_into_time_series_report(fixtures_dir: Path) -> None:
    record = _records(fixtures_dir, "fs_json")[9]
    body = orjson.loads(
        merge_pieces([(0, convert_record(record))], max_bytes=10**6, max_records=1)[0].body
    )
    item = body["data"][0]
    assert item["timeSeriesPredictionsReport"]["forecastDistance"] == [1, 2]
    assert "forecastDistance" not in item
    assert item["requestParameters"] == {"forecastPoint": "2024-03-01T00:00:00.000000Z"}


def test_split_parts_merge_into_one_request_with_all_rows(fixtures_dir: Path) -> None:
    records = _records(fixtures_dir, "fs_split")
    requests = merge_pieces(
        ((i, convert_record(r)) for i, r in enumerate(records)), max_bytes=10**6, max_records=100
    )
    assert [r.path.split("/")[2] for r in requests] == ["predictionInputs", "actuals"]
    predictions = orjson.loads(requests[0].body)["data"]
    assert [item["predictions"] for item in predictions] == [[10.0, 20.0], [30.0, 40.0], [50.0]]
    assert requests[0].rows == 5 and requests[0].indexes == (0, 1, 2)
    actuals = orjson.loads(requests[1].body)["data"]
    assert [a["associationId"] for a in actuals] == ["s-1", "s-2", "s-3"]


def _stats(deployment: str = "d1", **payload: Any) -> Record:
    base = {"timestamp": "t", "modelId": "m", "numPredictions": 1, "executionTime": 1.0}
    return Record.new(DataType.DEPLOYMENT_STATS, deployment, base | payload)


def _predictions(skip_drift: bool = False) -> Record:
    payload: dict[str, Any] = {"timestamp": "t", "modelId": "m", "predictions": [1.0]}
    if skip_drift:
        payload["skipDriftTracking"] = True
    return Record.new(DataType.PREDICTIONS_DATA, "d1", payload)


def test_records_with_different_skip_flags_are_not_merged() -> None:
    records = [_predictions(), _predictions(skip_drift=True), _predictions(skip_drift=True)]
    requests = merge_pieces(
        ((i, convert_record(r)) for i, r in enumerate(records)), max_bytes=10**6, max_records=100
    )
    assert [r.indexes for r in requests] == [(0,), (1, 2)]
    assert orjson.loads(requests[1].body)["skipDriftTracking"] is True
    assert "skipDriftTracking" not in orjson.loads(requests[0].body)


def test_merging_respects_order_deployments_and_limits() -> None:
    records = [_stats("d1"), _stats("d1"), _stats("d2"), _stats("d1"), _stats("d1"), _stats("d1")]
    pieces = [(i, convert_record(r)) for i, r in enumerate(records)]
    requests = merge_pieces(pieces, max_bytes=10**6, max_records=2)
    assert [r.indexes for r in requests] == [(0, 1), (2,), (3, 4), (5,)]
    one_item = len(pieces[0][1].items[0])
    small = merge_pieces(pieces[:2], max_bytes=one_item + 20, max_records=100)
    assert [r.indexes for r in small] == [(0,), (1,)]


def test_events_are_never_merged_and_go_unwrapped() -> None:
    event = {
        "timestamp": "t",
        "eventType": "e",
        "message": "m",
        "orgId": None,
        "deploymentId": "d1",
        "data": None,
    }
    records = [Record.new(DataType.EVENT, "d1", event) for _ in range(2)]
    requests = merge_pieces(
        ((i, convert_record(r)) for i, r in enumerate(records)), max_bytes=10**6, max_records=100
    )
    assert len(requests) == 2
    assert requests[0].path == "remoteEvents/"
    assert orjson.loads(requests[0].body) == event


def test_custom_metric_id_goes_to_the_url_and_buckets_merge_per_metric() -> None:
    def metric(metric_id: str, value: float) -> Record:
        return Record.new(
            DataType.CUSTOM_METRIC,
            "d1",
            {
                "modelId": None,
                "customMetricId": metric_id,
                "buckets": [{"timestamp": "t", "value": value}],
            },
        )

    records = [metric("m1", 1.0), metric("m1", 2.0), metric("m2", 3.0)]
    requests = merge_pieces(
        ((i, convert_record(r)) for i, r in enumerate(records)), max_bytes=10**6, max_records=100
    )
    assert [r.path for r in requests] == [
        "deployments/d1/customMetrics/m1/fromJSON/",
        "deployments/d1/customMetrics/m2/fromJSON/",
    ]
    assert orjson.loads(requests[0].body) == {
        "modelId": None,
        "buckets": [{"timestamp": "t", "value": 1.0}, {"timestamp": "t", "value": 2.0}],
    }


def test_record_without_deployment_id_cannot_be_converted() -> None:
    with pytest.raises(InvalidRecord, match="no deployment id"):
        convert_record(_stats(deployment=""))


def test_unknown_type_has_no_destination() -> None:
    record = Record(deployment_id="d1", data_type=99, payload={}, id="x")
    with pytest.raises(InvalidRecord, match="no REST destination"):
        convert_record(record)


def test_idempotency_key_depends_only_on_the_record_ids() -> None:
    assert idempotency_key(["a", "b"]) == idempotency_key(["a", "b"])
    assert idempotency_key(["a", "b"]) != idempotency_key(["b", "a"])
    assert idempotency_key(["a"]).startswith("sw1-") and len(idempotency_key(["a"])) == 36


def test_record_without_id_gets_a_stable_content_id() -> None:
    def anonymous(n: int) -> Record:
        record = _stats(numPredictions=n)
        record.id = None
        return record

    first, again, other = (convert_record(anonymous(n)) for n in (1, 1, 2))
    assert first.record_id is not None and first.record_id.startswith("sha256-")
    assert first.record_id == again.record_id != other.record_id


def _actuals(deployment: str, *ids: str) -> Record:
    actuals = [{"associationId": i, "actualValue": 1.0} for i in ids]
    return Record.new(DataType.ACTUALS_DATA, deployment, {"actualsList": actuals})


def test_records_of_one_destination_merge_whatever_lies_between_them() -> None:
    # A real model's stream: stats, then actuals, of two deployments taking turns.
    records = [
        _stats("d1"),
        _actuals("d1", "a", "b"),
        _stats("d2"),
        _stats("d1"),
        _actuals("d1", "c"),
        _stats("d2"),
    ]
    pieces = [(i, convert_record(r)) for i, r in enumerate(records)]
    requests = merge_pieces(pieces, max_bytes=10**6, max_records=100)
    assert [r.indexes for r in requests] == [(0, 3), (1, 4), (2, 5)]
    assert [r.item_counts for r in requests] == [(1, 1), (2, 1), (1, 1)]
    assert requests[1].record_ids == (str(records[1].id), str(records[4].id))
    actuals = orjson.loads(requests[1].body)["data"]
    assert [a["associationId"] for a in actuals] == ["a", "b", "c"]


def test_a_full_destination_starts_a_new_request_and_keeps_its_records_in_order() -> None:
    records = [_stats("d1"), _stats("d2"), _stats("d1"), _stats("d1"), _stats("d2")]
    pieces = [(i, convert_record(r)) for i, r in enumerate(records)]
    requests = merge_pieces(pieces, max_bytes=10**6, max_records=2)
    assert [r.indexes for r in requests] == [(0, 2), (1, 4), (3,)]
