"""The Reporter writes byte for byte what DataRobot's library wrote for the same calls.

Each case replays the call that produced one record of ``json_records/`` with the clock set to
that record's own timestamp and the local zone of the run (UTC+1), then compares the encoded
envelope with the fixture's raw line; only the random record id differs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from spoolwatch.records import encode_json, validate_record
from spoolwatch.report import Reporter
from spoolwatch.spools import MemorySpool

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
BERLIN_WINTER = timezone(timedelta(hours=1))


@pytest.fixture(autouse=True)
def berlin_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fixtures were made at UTC+1; event timestamps are local, so run in that zone."""
    monkeypatch.setenv("TZ", "CET-1")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fixture_line(fixtures_dir: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((fixtures_dir / "json_records" / name).read_text())
    return doc


def clock_at(stamp: str) -> Callable[[], datetime]:
    """A clock stopped at a DataRobot or event timestamp of the fixture run (UTC+1)."""
    text = stamp.replace("+0100", "")
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=BERLIN_WINTER)
    return lambda: moment


def replay(
    fixtures_dir: Path, names: list[str], call: Callable[[Reporter], None], stamp: str | None
) -> None:
    lines = [fixture_line(fixtures_dir, name) for name in names]
    if stamp is None:
        stamp = lines[-1]["data_decoded"].get("timestamp", "2026-11-24 20:01:33.000+0100")
    MemorySpool.reset(f"fixture-{names[0]}")
    spool = MemorySpool(f"fixture-{names[0]}")
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL, clock=clock_at(stamp))
    call(reporter)
    deliveries = spool.read(100)
    assert len(deliveries) == len(lines), [d.raw for d in deliveries]
    for delivery, line in zip(deliveries, lines, strict=True):
        record = delivery.record
        assert record is not None
        validate_record(record)
        record.id = line["header"]["id"]
        assert encode_json(record).decode("utf-8") == line["raw_line"]


def test_deployment_stats_match_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["01_DEPLOYMENT_STATS.json"],
        lambda r: r.report_deployment_stats(3, 12.5),
        None,
    )


def test_deployment_stats_with_batch_and_user_error_match_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["02_DEPLOYMENT_STATS.json"],
        lambda r: r.report_deployment_stats(10, 85.25, user_error=True, batch_id="batch-2024-01"),
        None,
    )


def test_regression_predictions_from_a_dataframe_match_datarobot(fixtures_dir: Path) -> None:
    frame = pd.DataFrame(
        {
            "age": [34.0, None, 51.5, 28.0],
            "num_purchases": [3, 0, 12, 7],
            "region": ["north", "south", None, "east"],
            "is_member": [True, False, True, False],
            "signup_date": ["2023-01-05", "2022-11-30", "2021-06-17", "2024-02-29"],
        }
    )
    replay(
        fixtures_dir,
        ["03_PREDICTIONS_DATA.json"],
        lambda r: r.report_predictions_data(
            frame, [120.5, 98.0, 310.25, 77.0], ["r-1", "r-2", "r-3", "r-4"]
        ),
        None,
    )


def test_nan_prediction_is_removed_after_an_event_like_datarobot(fixtures_dir: Path) -> None:
    stamp = fixture_line(fixtures_dir, "04_EVENT.json")["data_decoded"]["timestamp"]
    replay(
        fixtures_dir,
        ["04_EVENT.json", "05_PREDICTIONS_DATA.json"],
        lambda r: r.report_predictions_data(
            pd.DataFrame({"x": [1.0, 2.0, 3.0]}),
            np.array([1.5, math.nan, 3.5]),
            ["n-1", "n-2", "n-3"],
        ),
        stamp,
    )


def test_binary_classification_matches_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["06_PREDICTIONS_DATA.json"],
        lambda r: r.report_predictions_data(
            {"amount": [19.99, 250.0, 5.25], "merchant": ["shop-a", "shop-b", "shop-a"]},
            [[0.91, 0.09], [0.12, 0.88], [0.55, 0.45]],
            ["c-1", "c-2", "c-3"],
            ["legit", "fraud"],
        ),
        None,
    )


def test_multiclass_with_skip_flags_and_batch_matches_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["07_PREDICTIONS_DATA.json"],
        lambda r: r.report_predictions_data(
            pd.DataFrame({"petal_len": [1.4, 4.7]}),
            np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2]]),
            class_names=["setosa", "versicolor", "virginica"],
            skip_drift_tracking=True,
            skip_accuracy_tracking=True,
            batch_id="batch-2024-01",
        ),
        None,
    )


def test_text_generation_predictions_match_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["08_PREDICTIONS_DATA.json"],
        lambda r: r.report_predictions_data(predictions=["Completion one", "Completion two"]),
        None,
    )


def test_features_only_match_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["09_PREDICTIONS_DATA.json"],
        lambda r: r.report_predictions_data(pd.DataFrame({"x": [0.5, 0.25]})),
        None,
    )


def test_time_series_predictions_match_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["10_PREDICTIONS_DATA.json"],
        lambda r: r.report_raw_time_series_predictions_data(
            pd.DataFrame({"sales_lag1": [100.0, 110.0]}),
            [105.0, 111.5],
            ["ts-1", "ts-2"],
            request_parameters={"forecast_point": datetime(2024, 3, 1)},
            forecast_distance=[1, 2],
            row_index=[0, 1],
            partition=[datetime(2024, 3, 2), datetime(2024, 3, 3)],
            series_id=["store-7", "store-7"],
        ),
        None,
    )


def test_per_call_deployment_and_model_ids_match_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["11_PREDICTIONS_DATA.json"],
        lambda r: r.report_predictions_data(
            predictions=[0.5],
            deployment_id="650a1b2c3d4e5f6a7b8c9d10",
            model_id="650a1b2c3d4e5f6a7b8c9d11",
        ),
        None,
    )


def test_actuals_match_datarobot(fixtures_dir: Path) -> None:
    actuals = [
        {
            "associationId": "r-1",
            "actualValue": 118.0,
            "wasActedOn": True,
            "timestamp": datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
        },
        {"associationId": 42, "actualValue": 97},
        {"associationId": "c-2", "actualValue": "fraud", "timestamp": "2024-03-01T12:31:00Z"},
    ]
    replay(
        fixtures_dir,
        ["12_ACTUALS_DATA.json"],
        lambda r: r.report_actuals(actuals),
        "2026-11-24 20:01:33.391+0100",
    )


def test_deployment_metric_with_utc_timestamp_matches_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["13_CUSTOM_METRIC.json"],
        lambda r: r.report_custom_metric(
            "6512aa00bb11cc22dd33ee44", 42.0, datetime(2024, 3, 1, 8, tzinfo=UTC)
        ),
        "2026-11-24 20:01:33.391+0100",
    )


def test_deployment_metric_with_default_timestamp_matches_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["14_CUSTOM_METRIC.json"],
        lambda r: r.report_deployment_metric("6512aa00bb11cc22dd33ee44", 7),
        "2026-11-24 20:01:33.391+0100",
    )


def test_model_metric_with_naive_timestamps_matches_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["15_CUSTOM_METRIC.json"],
        lambda r: r.report_model_metric(
            "6512aa00bb11cc22dd33ee45",
            [1.5, 2.5],
            [datetime(2024, 3, 1, 9), datetime(2024, 3, 1, 10)],
        ),
        "2026-11-24 20:01:33.391+0100",
    )


def test_metric_with_geospatial_coordinates_matches_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["16_CUSTOM_METRIC.json"],
        lambda r: r.report_custom_metric(
            "6512aa00bb11cc22dd33ee46",
            [3.0, 4.0],
            [datetime(2024, 3, 1, 9, tzinfo=UTC), datetime(2024, 3, 1, 9, 5, tzinfo=UTC)],
            geospatial_coordinate=["POINT (-104.9903 39.7392)", None],
        ),
        "2026-11-24 20:01:33.391+0100",
    )


def test_event_matches_datarobot(fixtures_dir: Path) -> None:
    replay(
        fixtures_dir,
        ["17_EVENT.json"],
        lambda r: r.report_event(
            "prediction_request.failed",
            "Prediction request failed: upstream timeout",
            {"requestId": "req-123", "httpStatus": 504},
        ),
        None,
    )
