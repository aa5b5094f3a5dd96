"""Reporter → FilesystemSpool (JSON lines and binary frames) → the files decode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from spoolwatch.errors import InvalidRecord
from spoolwatch.records import (
    DataType,
    FrameKind,
    Record,
    decode_json,
    decode_record_bytes,
    next_frame,
    validate_record,
)
from spoolwatch.report import Reporter
from spoolwatch.spools.filesystem import FilesystemSpool

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"


def report_everything(reporter: Reporter) -> None:
    reporter.report_deployment_stats(3, 12.5)
    reporter.report_predictions_data(
        pd.DataFrame({"age": [34.0, None, 51.0], "region": ["n", None, "é"]}),
        [1.5, float("nan"), 3.5],
        ["a-1", "a-2", "a-3"],
    )
    reporter.report_actuals([{"associationId": "a-1", "actualValue": 1.0}])
    reporter.report_custom_metric("metric", 4.0)
    reporter.report_event("prediction_request.failed", "timeout", {"status": 504})


EXPECTED_TYPES = [
    DataType.DEPLOYMENT_STATS,
    DataType.EVENT,
    DataType.PREDICTIONS_DATA,
    DataType.ACTUALS_DATA,
    DataType.CUSTOM_METRIC,
    DataType.EVENT,
]


def decode_files(directory: Path) -> list[Record]:
    records: list[Record] = []
    for path in sorted(directory.glob("fs_spool.*"), key=lambda p: int(p.suffix[1:])):
        data = path.read_bytes()
        if data[:4] == b"\xde\xad\xbe\xef":
            offset = 0
            while (frame := next_frame(data, offset, source=path.name)).kind == FrameKind.RECORD:
                records.append(decode_record_bytes(frame.body, source=path.name))
                offset = frame.end
            assert offset == len(data)
        else:
            assert data.endswith(b"\n")
            records.extend(decode_json(line) for line in data.splitlines())
    return records


@pytest.mark.parametrize("data_format", ["JSON", "BYTE_ARRAY"])
def test_reports_written_to_a_spool_directory_decode_from_the_files(
    tmp_path: Path, data_format: str
) -> None:
    with Reporter(
        FilesystemSpool(tmp_path, data_format=data_format), deployment_id=DEP, model_id=MODEL
    ) as reporter:
        report_everything(reporter)
    records = decode_files(tmp_path)
    assert [r.data_type for r in records] == EXPECTED_TYPES
    for record in records:
        validate_record(record)
        assert record.deployment_id == DEP
    predictions = records[2].payload
    assert predictions["features"] == {"age": [34.0, 51.0], "region": ["n", "é"]}
    assert predictions["associationIds"] == ["a-1", "a-3"]


@pytest.mark.parametrize("data_format", ["JSON", "BYTE_ARRAY"])
def test_reporter_from_datarobot_variables_writes_what_the_spool_reads_back(
    tmp_path: Path, data_format: str
) -> None:
    env = {
        "MLOPS_SPOOLER_TYPE": "FILESYSTEM",
        "MLOPS_FILESYSTEM_DIRECTORY": str(tmp_path),
        "MLOPS_SPOOLER_DATA_FORMAT": data_format,
        "MLOPS_DEPLOYMENT_ID": DEP,
        "MLOPS_MODEL_ID": MODEL,
        "MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE": "2",
    }
    with Reporter.from_env(env) as reporter:
        assert isinstance(reporter.spool, FilesystemSpool)
        assert reporter.spool.data_format == data_format
        reporter.report_predictions_data({"x": [1, 2, 3, 4, 5]}, [1.0, 2.0, 3.0, 4.0, 5.0])
    reader = FilesystemSpool(tmp_path)
    try:
        deliveries = reader.read(100, wait=0.5)
        assert [d.record.row_count() for d in deliveries if d.record] == [2, 2, 1]
        reader.ack(deliveries)
    finally:
        reader.close()


def test_split_report_in_a_json_spool_file_matches_datarobots_file(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    moment = datetime(2026, 11, 24, 20, 1, 37, 302000, tzinfo=timezone(timedelta(hours=1)))
    with Reporter(
        FilesystemSpool(tmp_path),
        deployment_id=DEP,
        model_id=MODEL,
        rows_per_record=2,
        clock=lambda: moment,
    ) as reporter:
        reporter.report_predictions_data(
            {"x": [1.0, 2.0, 3.0, 4.0, 5.0]},
            [10.0, 20.0, 30.0, 40.0, 50.0],
            [f"s-{i}" for i in range(1, 6)],
            batch_id="b-split",
        )
        reporter.report_actuals(
            [{"associationId": f"s-{i}", "actualValue": float(i)} for i in (1, 2, 3)]
        )
    ours = (tmp_path / "fs_spool.1").read_text().splitlines()
    theirs = (fixtures_dir / "fs_split" / "fs_spool.1").read_text().splitlines()
    assert len(ours) == len(theirs) == 5
    for mine, reference in zip(ours, theirs, strict=True):
        our_id = json.loads(mine)["header"]["id"]
        assert mine.replace(our_id, json.loads(reference)["header"]["id"]) == reference


def test_large_custom_metric_splits_into_json_spool_records(tmp_path: Path) -> None:
    # DataRobot's library loses such a report on JSON spools; here every part is a record.
    spool = FilesystemSpool(tmp_path, max_file_size=20_000, max_files=50)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    with Reporter(spool, deployment_id=DEP, model_id=MODEL) as reporter:
        reporter.report_custom_metric(
            "metric",
            [float(i) for i in range(500)],
            [start + timedelta(minutes=i) for i in range(500)],
        )
    records = decode_files(tmp_path)
    assert [len(r.payload["buckets"]) for r in records] == [200, 200, 100]
    values = [b["value"] for r in records for b in r.payload["buckets"]]
    assert values == [float(i) for i in range(500)]


def _wide_report(reporter: Reporter, rows: int) -> None:
    reporter.report_predictions_data(
        pd.DataFrame({"text": ["x" * 200] * rows}), [0.5] * rows, [f"a-{i}" for i in range(rows)]
    )


def test_report_with_a_record_above_the_spools_cap_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    spool = FilesystemSpool(tmp_path, max_record_bytes=10_000)
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL)
    _wide_report(reporter, 10)  # about 3 KB: fits
    with pytest.raises(InvalidRecord) as refused:
        _wide_report(reporter, 100)  # about 25 KB in one record
    message = str(refused.value)
    assert "PREDICTIONS_DATA record of" in message and "max_record_bytes 10000" in message
    assert "nothing was written" in message and "rows_per_record" in message
    assert len(spool.read(10)) == 1
    split = Reporter(spool, deployment_id=DEP, model_id=MODEL, rows_per_record=20)
    _wide_report(split, 100)  # the fix the message names
    assert len(spool.read(10)) == 5
    spool.close()


def test_background_report_above_the_cap_is_dropped_at_once_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = FilesystemSpool(tmp_path, max_record_bytes=10_000)
    reporter = Reporter(spool, deployment_id=DEP, model_id=MODEL, background=True)
    _wide_report(reporter, 100)
    _wide_report(reporter, 10)
    reporter.close()
    assert (reporter.dropped.reports, reporter.dropped.write_failed) == (1, 1)
    refusals = [r for r in caplog.records if "refused a report" in r.getMessage()]
    assert len(refusals) == 1 and "max_record_bytes" in refusals[0].getMessage()
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
    types = [d.record.type_name for d in spool.read(10) if d.record is not None]
    assert types.count("PREDICTIONS_DATA") == 1
    spool.close()
