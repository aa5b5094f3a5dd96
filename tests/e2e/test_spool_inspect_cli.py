"""``spoolwatch spool inspect`` on DataRobot's spool files and on real queues."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from collections import Counter
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app
from spoolwatch.records import DataType, Record
from spoolwatch.spools import open_spool
from spoolwatch.spools.filesystem import DEFAULT_MAX_RECORD_BYTES, FilesystemSpool
from tests.unit.test_filesystem_spool_caps import MIB, _append_long_line

runner = CliRunner(env={"COLUMNS": "200"})  # rich tables at a readable width


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("name", ["fs_json", "fs_binary"])
def test_datarobot_spool_is_listed_without_being_consumed(
    fixtures_dir: Path, tmp_path: Path, name: str
) -> None:
    spool = tmp_path / name
    shutil.copytree(fixtures_dir / name, spool)
    before = sorted(p.name for p in spool.iterdir())
    result = runner.invoke(app, ["spool", "inspect", str(spool), "--json"])
    assert result.exit_code == 0, result.output
    records = _lines(result.stdout)
    expected = 20 if name == "fs_json" else 19  # the binary spool cannot hold the ping
    assert len(records) == expected
    counts = Counter(r["dataType"] for r in records)
    assert counts["PREDICTIONS_DATA"] == 8 and counts["CUSTOM_METRIC"] == 4
    assert all(set(r) == {"id", "deploymentId", "dataType", "payload"} for r in records)
    assert records[0]["payload"]["numPredictions"] == 3  # type: ignore[index]
    assert "PREDICTIONS_DATA 8" in result.stderr
    assert sorted(p.name for p in spool.iterdir()) == before  # nothing consumed or written


def test_table_output_ends_with_a_count_per_data_type(fixtures_dir: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    shutil.copytree(fixtures_dir / "fs_split", spool)
    result = runner.invoke(app, ["spool", "inspect", str(spool)])
    assert result.exit_code == 0, result.output
    assert "PREDICTIONS_DATA" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert last.endswith("records (ACTUALS_DATA 2, PREDICTIONS_DATA 3)")


def test_corrupt_bytes_are_reported_with_file_and_offset(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    data = (fixtures_dir / "fs_json" / "fs_spool.1").read_bytes().splitlines(keepends=True)
    offset = len(data[0])
    (spool / "fs_spool.1").write_bytes(data[0] + b"{not a record}\n" + b"".join(data[1:]))
    result = runner.invoke(app, ["spool", "inspect", str(spool), "--json"])
    assert result.exit_code == 0, result.output
    corrupt = [r for r in _lines(result.stdout) if "error" in r]
    assert len(corrupt) == 1
    assert "fs_spool.1" in str(corrupt[0]["error"]) and f"byte {offset}" in str(corrupt[0]["error"])
    assert len([r for r in _lines(result.stdout) if "id" in r]) == 20


def test_quarantine_shows_the_reason(tmp_path: Path) -> None:
    with open_spool(str(tmp_path)) as spool:
        spool.write([Record.new(DataType.EVENT, "d" * 24, {"timestamp": "t"})])
        spool.quarantine(spool.read(10), "rejected by the destination: HTTP 422")
    result = runner.invoke(app, ["spool", "inspect", str(tmp_path), "--quarantine"])
    assert result.exit_code == 0, result.output
    assert "rejected by the destination: HTTP 422" in result.stdout


def test_quarantined_oversized_line_shows_its_size_offset_and_that_it_was_cut(
    tmp_path: Path,
) -> None:
    spool = FilesystemSpool(tmp_path, create=True)
    spool.write([Record.new(DataType.EVENT, "d" * 24, {"timestamp": "t"})])
    offset = (tmp_path / "fs_spool.1").stat().st_size
    _append_long_line(tmp_path / "fs_spool.1", 50 * MIB)
    batch = spool.read(10)
    spool.quarantine([d for d in batch if d.error is not None], "undecodable")
    spool.close()
    note = f"oversized: 52,428,800 bytes at offset {offset} (max_record_bytes "

    table = runner.invoke(app, ["spool", "inspect", str(tmp_path), "--quarantine"])
    assert table.exit_code == 0, table.output
    assert note in table.stdout and "; first 1 KiB kept" in table.stdout
    assert f"fs_spool.1@{offset}" in table.stdout and "52,428,800" in table.stdout

    listed = runner.invoke(app, ["spool", "inspect", str(tmp_path), "--quarantine", "--json"])
    assert listed.exit_code == 0, listed.output
    (entry,) = _lines(listed.stdout)
    assert entry["truncated"] is True and entry["size"] == 50 * MIB
    assert entry["offset"] == offset and entry["keptBytes"] == 1024
    assert entry["maxRecordBytes"] == DEFAULT_MAX_RECORD_BYTES
    assert str(entry["note"]).startswith(note) and str(entry["note"]).endswith("1 KiB kept")
    assert len(base64.b64decode(str(entry["raw"]))) == 1024


def test_whole_quarantined_record_has_no_cut_note_and_an_older_cut_entry_keeps_its_offset(
    tmp_path: Path,
) -> None:
    with open_spool(str(tmp_path)) as spool:
        spool.write([Record.new(DataType.EVENT, "d" * 24, {"timestamp": "t"})])
        spool.quarantine(spool.read(10), "rejected by the destination: HTTP 422")
    # An entry written before offsets and caps were kept: its offset is its position's.
    older = {
        "reason": "undecodable",
        "position": "fs_spool.3@77",
        "quarantined_at": "2026-01-01T00:00:00+00:00",
        "raw": base64.b64encode(b"x" * 100).decode(),
        "size": 5_000_000,
        "truncated": True,
    }
    with open(tmp_path / "quarantine" / "quarantine.jsonl", "a") as handle:
        handle.write(json.dumps(older) + "\n")
    listed = runner.invoke(app, ["spool", "inspect", str(tmp_path), "--quarantine", "--json"])
    assert listed.exit_code == 0, listed.output
    whole, cut = _lines(listed.stdout)
    assert "truncated" not in whole and "note" not in whole
    assert cut["note"] == "cut: 5,000,000 bytes at offset 77; first 100 bytes kept"


def test_limit_and_bad_addresses(fixtures_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(fixtures_dir / "fs_json", tmp_path / "s")
    limited = runner.invoke(
        app, ["spool", "inspect", str(tmp_path / "s"), "--json", "--limit", "3"]
    )
    assert len(_lines(limited.stdout)) == 3
    unknown = runner.invoke(app, ["spool", "inspect", "ftp://example.com/x"])
    assert unknown.exit_code == 2 and "cannot tell the spool transport" in unknown.output
    zero = runner.invoke(app, ["spool", "inspect", str(tmp_path / "s"), "--limit", "0"])
    assert zero.exit_code == 2


@pytest.mark.aws
def test_sqs_queue_is_listed_and_keeps_its_messages(moto_server: str) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"inspect-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with open_spool(url) as spool:
        spool.write(
            [
                Record.new(DataType.DEPLOYMENT_STATS, "d" * 24, {"numPredictions": i})
                for i in range(3)
            ]
        )
    result = runner.invoke(app, ["spool", "inspect", url, "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(r["payload"]["numPredictions"] for r in _lines(result.stdout)) == [0, 1, 2]  # type: ignore[index]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "3"
    sqs.close()


def test_rabbitmq_queue_is_listed_and_keeps_its_messages(rabbitmq_url: str) -> None:
    queue = f"inspect-{uuid.uuid4().hex[:8]}"
    address = f"{rabbitmq_url}?queue={queue}"
    spool = open_spool(address)
    try:
        spool.write([Record.new(DataType.EVENT, "d" * 24, {"message": f"m{i}"}) for i in range(4)])
        result = runner.invoke(app, ["spool", "inspect", address, "--json"])
        assert result.exit_code == 0, result.output
        assert [r["payload"]["message"] for r in _lines(result.stdout)] == ["m0", "m1", "m2", "m3"]  # type: ignore[index]
        assert "guest:guest" not in result.stderr
        assert spool.backlog().visible == 4
    finally:
        spool.delete_queues()  # type: ignore[attr-defined]
        spool.close()
