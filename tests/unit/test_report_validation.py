"""Bad report arguments raise a ReportError naming the argument, and write nothing."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.records import DataType, Record, validate_record
from spoolwatch.report import Reporter, ReporterConfig, ReportError
from spoolwatch.report.convert import MAX_EVENT_MESSAGE
from spoolwatch.spools import MemorySpool

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"


@pytest.fixture
def spool(request: pytest.FixtureRequest) -> MemorySpool:
    name = f"validation-{request.node.name}"
    MemorySpool.reset(name)
    return MemorySpool(name)


@pytest.fixture
def reporter(spool: MemorySpool) -> Reporter:
    return Reporter(spool, deployment_id=DEP, model_id=MODEL)


def records(spool: MemorySpool) -> list[Record]:
    out = []
    for delivery in spool.read(1_000):
        assert delivery.record is not None
        validate_record(delivery.record)
        out.append(delivery.record)
    return out


BAD_CALLS: list[tuple[str, Callable[[Reporter], None]]] = [
    ("num_predictions", lambda r: r.report_deployment_stats(2.5, 1.0)),  # type: ignore[arg-type]
    ("num_predictions", lambda r: r.report_deployment_stats(-1, 1.0)),
    ("num_predictions", lambda r: r.report_deployment_stats(True, 1.0)),
    ("execution_time_ms", lambda r: r.report_deployment_stats(1, "fast")),  # type: ignore[arg-type]
    ("execution_time_ms", lambda r: r.report_deployment_stats(1, math.inf)),
    ("user_error", lambda r: r.report_deployment_stats(1, 1.0, user_error="no")),  # type: ignore[arg-type]
    ("features_df", lambda r: r.report_predictions_data()),
    ("features_df", lambda r: r.report_predictions_data({1: [1.0]}, [1.0])),
    ("features_df", lambda r: r.report_predictions_data({"a": [1.0, 2.0]}, [1.0])),
    ("features_df", lambda r: r.report_predictions_data({"a": [1.0], "b": [1.0, 2.0]})),
    ("features_df", lambda r: r.report_predictions_data(np.zeros((2, 2)), [1.0, 2.0])),
    ("features_df", lambda r: r.report_predictions_data("a,b", [1.0])),
    (
        "features_df['d'] row 0",
        lambda r: r.report_predictions_data({"d": [date(2024, 1, 1)]}, [1.0]),
    ),
    (
        "features_df['d']",
        lambda r: r.report_predictions_data(
            pd.DataFrame({"d": pd.to_datetime(["2024-01-01"])}), [1.0]
        ),
    ),
    ("predictions", lambda r: r.report_predictions_data(predictions=[])),
    ("predictions", lambda r: r.report_predictions_data(predictions="1.0")),
    ("predictions", lambda r: r.report_predictions_data(predictions=[1.0, "x"])),
    ("predictions", lambda r: r.report_predictions_data(predictions=[[0.5, 0.5], [1.0]])),
    ("predictions", lambda r: r.report_predictions_data(predictions=[[1.5, -0.5]])),
    ("predictions", lambda r: r.report_predictions_data(predictions=[[1.0]])),
    (
        "predictions",
        lambda r: r.report_predictions_data(predictions=[[0.5, 0.5]], class_names=["a", "b", "c"]),
    ),
    ("predictions", lambda r: r.report_predictions_data(predictions=["a", 1.0])),
    (
        "class_names",
        lambda r: r.report_predictions_data(predictions=[[0.5, 0.5]], class_names=["only"]),
    ),
    ("class_names", lambda r: r.report_predictions_data(predictions=[1.0], class_names=["a", "b"])),
    (
        "association_ids",
        lambda r: r.report_predictions_data(predictions=[1.0, 2.0], association_ids=["a"]),
    ),
    (
        "association_ids",
        lambda r: r.report_predictions_data(predictions=[1.0, 2.0], association_ids=["a", "a"]),
    ),
    (
        "association_ids",
        lambda r: r.report_predictions_data(predictions=[1.0], association_ids=[1]),
    ),
    ("association_ids", lambda r: r.report_predictions_data({"x": [1]}, association_ids=["a"])),
    (
        "forecast_distance",
        lambda r: r.report_predictions_data(predictions=[1.0], forecast_distance=[1, 2]),
    ),
    ("row_index[0]", lambda r: r.report_predictions_data(predictions=[1.0], row_index=[0.5])),
    (
        "partition[0]",
        lambda r: r.report_predictions_data(predictions=[1.0], partition=["2024-01-01"]),
    ),
    ("forecast_distance", lambda r: r.report_predictions_data({"x": [1]}, forecast_distance=[1])),
    (
        "skip_drift_tracking",
        lambda r: r.report_predictions_data(predictions=[1.0], skip_drift_tracking="yes"),
    ),
    ("actuals", lambda r: r.report_actuals([])),
    ("actuals", lambda r: r.report_actuals({"associationId": "a", "actualValue": 1})),
    ("actuals[0]", lambda r: r.report_actuals(["a"])),  # type: ignore[list-item]
    (
        "actuals[1]",
        lambda r: r.report_actuals([{"associationId": "a", "actualValue": 1}, {"actualValue": 2}]),
    ),
    ("actuals[0]", lambda r: r.report_actuals([{"associationId": "a"}])),
    (
        "actuals[0].actualValue",
        lambda r: r.report_actuals([{"associationId": "a", "actualValue": [1]}]),
    ),
    (
        "actuals[0].actualValue",
        lambda r: r.report_actuals([{"associationId": "a", "actualValue": math.nan}]),
    ),
    (
        "actuals[0].wasActedOn",
        lambda r: r.report_actuals([{"associationId": "a", "actualValue": 1, "wasActedOn": "yes"}]),
    ),
    (
        "actuals[0]",
        lambda r: r.report_actuals([{"associationId": "a", "actualValue": 1, "extra": object()}]),
    ),
    ("metric_id", lambda r: r.report_custom_metric("", 1.0)),
    ("metric_id", lambda r: r.report_custom_metric(7, 1.0)),  # type: ignore[arg-type]
    ("value", lambda r: r.report_custom_metric("m", "1")),  # type: ignore[arg-type]
    ("value", lambda r: r.report_custom_metric("m", [])),
    ("value", lambda r: r.report_custom_metric("m", math.nan)),
    ("value[1]", lambda r: r.report_custom_metric("m", [1.0, None])),  # type: ignore[list-item]
    ("timestamp", lambda r: r.report_custom_metric("m", 1.0, "2024-03-01")),  # type: ignore[arg-type]
    ("timestamp", lambda r: r.report_custom_metric("m", [1.0, 2.0], [datetime(2024, 1, 1)])),
    ("timestamp", lambda r: r.report_custom_metric("m", [1.0], datetime(2024, 1, 1))),
    (
        "geospatial_coordinate",
        lambda r: r.report_custom_metric(
            "m", [1.0, 2.0], None, geospatial_coordinate=["POINT (1 2)"]
        ),
    ),
    (
        "geospatial_coordinate[0]",
        lambda r: r.report_custom_metric("m", 1.0, geospatial_coordinate=(1, 2)),
    ),  # type: ignore[arg-type]
    ("model_id", lambda r: r.report_model_metric("m", 1.0, model_id="")),
    ("event_type", lambda r: r.report_event("", "message")),
    ("message", lambda r: r.report_event("prediction_request.failed", "")),
    ("message", lambda r: r.report_event("prediction_request.failed", None)),  # type: ignore[arg-type]
    ("data", lambda r: r.report_event("prediction_request.failed", "m", data=[1])),  # type: ignore[arg-type]
    ("data", lambda r: r.report_event("prediction_request.failed", "m", data={"x": object()})),
    ("org_id", lambda r: r.report_event("prediction_request.failed", "m", org_id=5)),  # type: ignore[arg-type]
]

#: Numbers and timestamps DataRobot's library writes but no service can keep (records.bounds).
OUT_OF_BOUNDS: list[tuple[str, Callable[[Reporter], None]]] = [
    ("execution_time_ms", lambda r: r.report_deployment_stats(1, 1e308)),
    ("execution_time_ms", lambda r: r.report_deployment_stats(1, 1e12 + 1)),
    ("execution_time_ms", lambda r: r.report_deployment_stats(1, -0.5)),
    ("execution_time_ms", lambda r: r.report_deployment_stats(1, np.float64("nan"))),
    ("num_predictions", lambda r: r.report_deployment_stats(2**53 + 1, 1.0)),
    ("num_predictions", lambda r: r.report_deployment_stats(np.int64(-3), 1.0)),
    ("value", lambda r: r.report_custom_metric("m", math.inf)),
    ("value", lambda r: r.report_custom_metric("m", -1e300)),
    ("value", lambda r: r.report_custom_metric("m", 10**300)),
    ("value[1]", lambda r: r.report_custom_metric("m", [1.0, np.float32("inf")], [_T, _T])),
    ("timestamp", lambda r: r.report_custom_metric("m", 1.0, datetime(1, 1, 1))),
    ("timestamp", lambda r: r.report_custom_metric("m", 1.0, datetime(9999, 12, 31, tzinfo=UTC))),
    ("timestamp[0]", lambda r: r.report_custom_metric("m", [1.0], [datetime(1969, 12, 31)])),
    ("predictions", lambda r: r.report_predictions_data(predictions=[1.0, math.inf])),
    ("predictions", lambda r: r.report_predictions_data(predictions=[-1e290])),
    (
        "actuals[0].actualValue",
        lambda r: r.report_actuals([{"associationId": "a", "actualValue": -math.inf}]),
    ),
]
_T = datetime(2026, 11, 24, 10, tzinfo=UTC)


@pytest.mark.parametrize(("argument", "call"), BAD_CALLS + OUT_OF_BOUNDS)
def test_bad_argument_raises_report_error_naming_it_and_writes_nothing(
    reporter: Reporter, spool: MemorySpool, argument: str, call: Callable[[Reporter], None]
) -> None:
    with pytest.raises(ReportError) as info:
        call(reporter)
    assert info.value.argument == argument
    assert str(info.value).startswith(argument)
    assert isinstance(info.value, ConfigError)
    assert spool.backlog().visible == 0


@pytest.mark.parametrize(
    "moment", [datetime(1969, 12, 31, 23, 59, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)]
)
def test_a_clock_outside_the_kept_range_is_refused_naming_the_timestamp(
    spool: MemorySpool, moment: datetime
) -> None:
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL, clock=lambda: moment)
    for call in (
        lambda: reporter.report_deployment_stats(1, 1.0),
        lambda: reporter.report_predictions_data(predictions=[1.0]),
        lambda: reporter.report_custom_metric("m", 1.0),
        lambda: reporter.report_event("prediction_request.failed", "m"),
    ):
        with pytest.raises(ReportError, match="from 1970-01-01T00:00:00Z") as info:
            call()
        assert info.value.argument == "timestamp"
    assert spool.backlog().visible == 0


def test_numbers_at_the_bounds_are_reported(reporter: Reporter, spool: MemorySpool) -> None:
    reporter.report_deployment_stats(2**53, 1e12)
    reporter.report_deployment_stats(0, 0)
    reporter.report_custom_metric("m", [1e289, -1e289], [_T, datetime(2199, 12, 31, 23)])
    reporter.report_custom_metric("m", 1.0, datetime(1970, 1, 1, tzinfo=UTC))
    reporter.report_predictions_data(predictions=[1e289, math.nan])
    kinds = [r.data_type for r in records(spool)]
    assert kinds.count(DataType.DEPLOYMENT_STATS) == 2 and kinds.count(DataType.CUSTOM_METRIC) == 2
    assert kinds.count(DataType.PREDICTIONS_DATA) == 1  # the NaN row removed, as before


def test_missing_ids_say_which_setting_to_give(spool: MemorySpool) -> None:
    reporter = Reporter(spool, config=ReporterConfig())
    with pytest.raises(ReportError, match="MLOPS_DEPLOYMENT_ID"):
        reporter.report_event("x", "y")
    with pytest.raises(ReportError, match="MLOPS_MODEL_ID"):
        reporter.report_deployment_stats(1, 1.0, deployment_id=DEP)
    reporter.report_deployment_metric("m", 1.0, deployment_id=DEP)
    assert records(spool)[0].payload["modelId"] is None
    assert spool.backlog().visible == 0


def test_a_big_report_with_one_bad_row_late_writes_no_part(spool: MemorySpool) -> None:
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL, rows_per_record=10)
    predictions: list[Any] = [1.0] * 99 + ["bad"]
    with pytest.raises(ReportError, match="row 99"):
        reporter.report_predictions_data(predictions=predictions)
    assert spool.backlog().visible == 0


def test_feature_values_become_plain_json_values(reporter: Reporter, spool: MemorySpool) -> None:
    reporter.report_predictions_data(
        {
            "i": np.array([1, 2, 3], dtype=np.int32),
            "f": np.array([1.5, np.nan, 2.5], dtype=np.float32),
            "d": [Decimal("1.25"), None, Decimal("NaN")],
            "b": np.array([True, False, True]),
            "s": np.array(["a", "b", "c"]),
            "o": pd.Series(["x", pd.NA, None], dtype=object),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "mixed": [np.int64(4), np.float64(0.5), "z"],
        },
        np.array([1, 2, 3], dtype=np.int64),
    )
    payload = records(spool)[0].payload
    assert payload["features"] == {
        "i": [1, 2, 3],
        "f": [1.5, None, 2.5],
        "d": [1.25, None, None],
        "b": [True, False, True],
        "s": ["a", "b", "c"],
        "o": ["x", None, None],
        "n": [1, None, 3],
        "mixed": [4, 0.5, "z"],
    }
    assert payload["predictions"] == [1, 2, 3]


def test_structured_numpy_array_is_accepted_as_features(
    reporter: Reporter, spool: MemorySpool
) -> None:
    table = np.array([(1.0, 2), (3.0, 4)], dtype=[("a", "f8"), ("b", "i4")])
    reporter.report_predictions_data(table, [0.1, 0.2])
    assert records(spool)[0].payload["features"] == {"a": [1.0, 3.0], "b": [2, 4]}


def test_several_nan_predictions_are_listed_in_one_event(
    reporter: Reporter, spool: MemorySpool
) -> None:
    reporter.report_predictions_data(
        pd.DataFrame({"x": [1, 2, 3, 4]}),
        [[0.5, 0.5], [math.nan, 0.5], [0.2, 0.8], [0.1, math.nan]],
        ["a", "b", "c", "d"],
        ["no", "yes"],
        forecast_distance=[1, 2, 3, 4],
    )
    event, data = records(spool)
    assert event.data_type == DataType.EVENT
    assert event.payload["message"] == "External NaN Predictions for indices: 1, 3"
    assert event.payload["data"] == {"modelId": MODEL, "count": 2}
    assert data.payload["associationIds"] == ["a", "c"]
    assert data.payload["features"] == {"x": [1, 3]}
    assert data.payload["forecastDistance"] == [1, 3]


def test_all_nan_predictions_write_only_the_event(reporter: Reporter, spool: MemorySpool) -> None:
    reporter.report_predictions_data(predictions=[math.nan, None])
    (event,) = records(spool)
    assert event.payload["data"]["count"] == 2


def test_actuals_rename_the_configured_association_column_and_keep_extra_keys(
    spool: MemorySpool,
) -> None:
    reporter = Reporter(
        spool, deployment_id=DEP, model_id=MODEL, association_id_column_name="row_id"
    )
    reporter.report_actuals(
        [
            {
                "row_id": 7,
                "actualValue": np.float64(1.5),
                "wasActedOn": np.bool_(False),
                "timestamp": datetime(2024, 3, 1, tzinfo=UTC),
                "source": "crm",
            }
        ]
    )
    (record,) = records(spool)
    assert record.payload["actualsList"] == [
        {
            "associationId": "7",
            "actualValue": 1.5,
            "wasActedOn": False,
            "timestamp": "2024-03-01 00:00:00.000+0000",
            "source": "crm",
        }
    ]
    with pytest.raises(ReportError, match="both"):
        reporter.report_actuals([{"row_id": 1, "associationId": 2, "actualValue": 1}])


def test_long_event_message_is_cut_to_datarobots_limit(
    reporter: Reporter, spool: MemorySpool
) -> None:
    reporter.report_event("model_deployments.model_replacement", "x" * 20_000, org_id="org")
    (record,) = records(spool)
    assert len(record.payload["message"]) == MAX_EVENT_MESSAGE == 16_383
    assert record.payload["orgId"] == "org"
    assert record.payload["data"] is None


def test_unknown_request_parameters_are_dropped_with_a_warning(
    reporter: Reporter, spool: MemorySpool, caplog: pytest.LogCaptureFixture
) -> None:
    reporter.report_predictions_data(
        predictions=[1.0],
        request_parameters={"relaxKnownInAdvanceFeaturesCheck": True, "colour": "red"},
    )
    assert records(spool)[0].payload["requestParameters"] == {
        "relaxKnownInAdvanceFeaturesCheck": True
    }
    assert "colour" in caplog.text


def test_closed_reporter_refuses_reports(reporter: Reporter) -> None:
    reporter.close()
    with pytest.raises(ConfigError, match="closed"):
        reporter.report_event("x", "y")
