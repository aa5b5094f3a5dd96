"""Large reports are split as DataRobot's library splits them (spec §4.0)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from spoolwatch.records import DataType, Record, encode_json, validate_record
from spoolwatch.report import Reporter
from spoolwatch.report.split import rows_per_record
from spoolwatch.spools import MemorySpool

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"


class LimitedSpool(MemorySpool):
    """A memory spool with another transport's byte limit."""

    def __init__(self, name: str, limit: int) -> None:
        MemorySpool.reset(name)
        super().__init__(name)
        self.record_byte_limit = limit


def written(spool: MemorySpool) -> list[Record]:
    records = []
    for delivery in spool.read(10_000):
        assert delivery.record is not None
        validate_record(delivery.record)
        records.append(delivery.record)
    return records


def test_rows_per_record_follows_datarobots_rule() -> None:
    assert rows_per_record(256_000) == 25
    assert rows_per_record(52_428_800) == 5_120
    assert rows_per_record(104_857_600) == 10_000
    assert rows_per_record(10_485_760) == 1_024
    assert rows_per_record(-1) == -1
    assert rows_per_record(-1, 7) == 7
    assert rows_per_record(256_000, 100) == 100
    assert rows_per_record(256_000, 50_000) == 10_000
    assert rows_per_record(256_000, 50_000, max_lines=300) == 300
    assert rows_per_record(256_000, 0) == 25


def test_split_matches_datarobots_fs_split_fixture(fixtures_dir: Path) -> None:
    lines = (fixtures_dir / "fs_split" / "fs_spool.1").read_text().splitlines()
    moment = datetime(2026, 11, 24, 20, 1, 37, 302000, tzinfo=timezone(timedelta(hours=1)))
    spool = LimitedSpool("split-fixture", 104_857_600)
    reporter = Reporter(
        spool, deployment_id=DEP, model_id=MODEL, rows_per_record=2, clock=lambda: moment
    )
    reporter.report_predictions_data(
        {"x": [1.0, 2.0, 3.0, 4.0, 5.0]},
        [10.0, 20.0, 30.0, 40.0, 50.0],
        ["s-1", "s-2", "s-3", "s-4", "s-5"],
        batch_id="b-split",
    )
    reporter.report_actuals(
        [{"associationId": f"s-{i}", "actualValue": float(i)} for i in (1, 2, 3)]
    )
    records = written(spool)
    assert [r.row_count() for r in records] == [2, 2, 1, 2, 1]
    for record, line in zip(records, lines, strict=True):
        record.id = json.loads(line)["header"]["id"]
        assert encode_json(record).decode("utf-8") == line


def test_sixty_rows_on_an_sqs_sized_spool_become_25_25_10() -> None:
    spool = LimitedSpool("split-sqs", 256_000)
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL)
    reporter.report_predictions_data(
        {"f": list(range(60)), "g": [f"v{i}" for i in range(60)]},
        [float(i) for i in range(60)],
        [f"a-{i}" for i in range(60)],
    )
    records = written(spool)
    assert [r.row_count() for r in records] == [25, 25, 10]
    assert records[1].payload["features"]["f"] == list(range(25, 50))
    assert records[2].payload["associationIds"] == [f"a-{i}" for i in range(50, 60)]
    assert len({r.payload["timestamp"] for r in records}) == 1


def test_thirty_actuals_on_an_sqs_sized_spool_become_25_and_5_with_model_id_first() -> None:
    spool = LimitedSpool("split-actuals", 256_000)
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL)
    reporter.report_actuals([{"associationId": i, "actualValue": i} for i in range(30)])
    records = written(spool)
    assert [r.row_count() for r in records] == [25, 5]
    assert [list(r.payload) for r in records] == [["modelId", "actualsList"]] * 2


def test_small_actuals_report_keeps_actuals_list_first() -> None:
    spool = LimitedSpool("unsplit-actuals", 256_000)
    Reporter(spool, deployment_id=DEP, model_id=MODEL).report_actuals(
        [{"associationId": "a", "actualValue": 1}]
    )
    assert list(written(spool)[0].payload) == ["actualsList", "modelId"]


def test_split_parts_copy_every_shared_field_and_slice_every_row_field() -> None:
    spool = LimitedSpool("split-shared", 256_000)
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL, rows_per_record=3)
    rows = 7
    reporter.report_predictions_data(
        {"x": [float(i) for i in range(rows)]},
        [[0.25, 0.75]] * rows,
        [f"id-{i}" for i in range(rows)],
        ["a", "b"],
        batch_id="b1",
        skip_drift_tracking=True,
        request_parameters={"forecast_point": datetime(2024, 3, 1, tzinfo=UTC)},
        forecast_distance=list(range(rows)),
        row_index=list(range(rows)),
        partition=[datetime(2024, 3, 2) + timedelta(days=i) for i in range(rows)],
        series_id=["s"] * rows,
    )
    records = written(spool)
    assert [r.row_count() for r in records] == [3, 3, 1]
    whole_keys = list(records[0].payload)
    for record in records:
        assert list(record.payload) == whole_keys
        assert record.payload["classNames"] == ["a", "b"]
        assert record.payload["batchId"] == "b1"
        assert record.payload["skipDriftTracking"] is True
        assert record.payload["requestParameters"] == {
            "forecastPoint": "2024-03-01T00:00:00.000000Z"
        }
    assert records[2].payload["rowIndex"] == [6]
    assert records[2].payload["partition"] == ["2024-03-08T00:00:00.000000Z"]


def test_a_report_over_the_byte_limit_is_split_even_under_the_row_count() -> None:
    spool = LimitedSpool("split-bytes", 40_000)  # 3 rows per record, but the payload is big
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL)
    reporter.report_predictions_data({"text": ["x" * 5_000] * 3}, [1.0, 2.0, 3.0])
    assert [r.row_count() for r in written(spool)] == [3]
    reporter.report_predictions_data({"text": ["x" * 20_000] * 3}, [1.0, 2.0, 3.0])
    # DataRobot slices by R rows; at R = 3 one part still holds all three rows.
    assert [r.row_count() for r in written(spool)] == [3]
    reporter.report_predictions_data({"text": ["x" * 20_000] * 7}, [1.0] * 7)
    assert [r.row_count() for r in written(spool)] == [3, 3, 1]


def test_unlimited_spool_never_splits_without_a_row_setting() -> None:
    spool = LimitedSpool("split-none", -1)
    Reporter(spool, deployment_id=DEP, model_id=MODEL).report_predictions_data(
        predictions=[1.0] * 20_000
    )
    assert [r.row_count() for r in written(spool)] == [20_000]


def metric_buckets(record: Record) -> list[dict[str, Any]]:
    buckets: list[dict[str, Any]] = record.payload["buckets"]
    return buckets


def test_large_custom_metric_is_split_into_normal_json_records() -> None:
    spool = LimitedSpool("split-metric", 10_000)  # split when JSON + 4096 > 10000; 100 per part
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    stamps = [start + timedelta(minutes=i) for i in range(250)]
    reporter.report_custom_metric("metric-1", [float(i) for i in range(250)], stamps)
    records = written(spool)
    assert [len(metric_buckets(r)) for r in records] == [100, 100, 50]
    for record in records:
        assert record.data_type == DataType.CUSTOM_METRIC
        assert list(record.payload) == ["modelId", "customMetricId", "buckets"]
        assert record.payload["customMetricId"] == "metric-1"
        assert record.payload["modelId"] is None
    values = [b["value"] for r in records for b in metric_buckets(r)]
    assert values == [float(i) for i in range(250)]


def test_small_custom_metric_is_not_split() -> None:
    spool = LimitedSpool("split-metric-small", 10_000)
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL)
    reporter.report_custom_metric("m", [1.0] * 20, [datetime(2024, 3, 1)] * 20)
    records = written(spool)
    assert len(records) == 1
    assert len(orjson.dumps(records[0].payload)) + 4096 <= 10_000


@pytest.mark.parametrize("configured", [10, 40])
def test_custom_metric_rows_setting_sets_the_part_size(configured: int) -> None:
    from spoolwatch.report import ReporterConfig

    spool = LimitedSpool("split-metric-config", 10_000)
    config = ReporterConfig(custom_metric_rows_per_record=configured, deployment_id=DEP)
    reporter = Reporter(spool, config=config)
    reporter.report_custom_metric("m", [1.0] * 250, [datetime(2024, 3, 1)] * 250)
    sizes = [len(metric_buckets(r)) for r in written(spool)]
    assert sum(sizes) == 250
    assert max(sizes) == configured


def test_time_series_with_fewer_feature_rows_splits_every_field_by_its_own_rows() -> None:
    spool = LimitedSpool("split-ts-uneven", 256_000)
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL, rows_per_record=2)
    reporter.report_predictions_data(
        {"lag": [1.0, 2.0, 3.0]},
        [10.0, 20.0, 30.0, 40.0, 50.0],
        forecast_distance=[1, 2, 3, 4, 5],
    )
    parts = [r.payload for r in written(spool)]
    assert [p.get("features") for p in parts] == [{"lag": [1.0, 2.0]}, {"lag": [3.0]}, None]
    assert [p["predictions"] for p in parts] == [[10.0, 20.0], [30.0, 40.0], [50.0]]
    assert [p["forecastDistance"] for p in parts] == [[1, 2], [3, 4], [5]]
