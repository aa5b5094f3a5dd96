"""Consuming a filesystem spool: committed prefix, deletion, reused names, lock, backlog."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from spoolwatch.errors import ConfigError, SpoolUnavailable
from spoolwatch.records import encode_frame, encode_json
from spoolwatch.spools.base import Backlog
from spoolwatch.spools.filesystem import FilesystemSpool
from spoolwatch.spools.filesystem.consumer import SpoolConsumer
from tests.spool_contract import sample_records

PROGRESS = ".spoolwatch-progress.json"
REPO = Path(__file__).resolve().parents[2]


def lines(count: int, tag: str = "r") -> tuple[bytes, list[int]]:
    """JSON spool bytes of ``count`` records and the offset where each starts."""
    data, starts = b"", []
    for record in sample_records(count, tag=tag):
        starts.append(len(data))
        data += encode_json(record) + b"\n"
    return data, starts


def progress(directory: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads((directory / PROGRESS).read_text())
    return result


def copy_fixture(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("fs_spool.*"):
        shutil.copyfile(path, target / path.name)
    return target


def test_progress_advances_only_over_a_contiguous_prefix_of_acks(tmp_path: Path) -> None:
    data, starts = lines(5)
    (tmp_path / "fs_spool.1").write_bytes(data)
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(5)
        spool.ack([deliveries[1], deliveries[2]])
        assert not (tmp_path / PROGRESS).exists() or progress(tmp_path)["offset"] == 0
        spool.ack([deliveries[0]])
        assert progress(tmp_path)["offset"] == starts[3]
        spool.ack([deliveries[4]])
        assert progress(tmp_path)["offset"] == starts[3]
        spool.ack([deliveries[3]])
        assert progress(tmp_path) | {"updated_at": None} == progress(tmp_path) | {
            "file": "fs_spool.1",
            "offset": len(data),
            "updated_at": None,
        }
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_new_consumer_resumes_after_the_committed_prefix(tmp_path: Path) -> None:
    data, _ = lines(4)
    (tmp_path / "fs_spool.1").write_bytes(data)
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(4)
        spool.ack(deliveries[:2])
    with FilesystemSpool(tmp_path) as spool:
        again = spool.read(10)
    assert [d.position for d in again] == [d.position for d in deliveries[2:]]


def test_crash_between_read_and_ack_redelivers_everything_after_the_committed_offset(
    tmp_path: Path,
) -> None:
    data, starts = lines(4)
    (tmp_path / "fs_spool.1").write_bytes(data)
    script = (
        "import os, sys\n"
        "from spoolwatch.spools.filesystem import FilesystemSpool\n"
        "spool = FilesystemSpool(sys.argv[1])\n"
        "deliveries = spool.read(4)\n"
        "spool.ack([deliveries[0], deliveries[2]])\n"
        "os._exit(0)\n"  # dies without close(): no cleanup at all
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, cwd=REPO, timeout=60)
    with FilesystemSpool(tmp_path) as spool:
        again = spool.read(10)
    assert [d.position for d in again] == [f"fs_spool.1@{offset}" for offset in starts[1:]]


def test_nacked_record_is_read_again_in_this_process_marked_redelivered(tmp_path: Path) -> None:
    data, _ = lines(3)
    (tmp_path / "fs_spool.1").write_bytes(data)
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(3)
        spool.nack([deliveries[1]])
        again = spool.read(10)
        assert [(d.position, d.redelivered) for d in again] == [(deliveries[1].position, True)]
        assert spool.backlog() == Backlog(visible=0, in_flight=3)


def test_nack_with_delay_keeps_the_record_back_until_the_delay_passed(tmp_path: Path) -> None:
    data, _ = lines(1)
    (tmp_path / "fs_spool.1").write_bytes(data)
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(1)
        spool.nack(deliveries, delay=0.5)
        assert spool.read(1) == []
        assert spool.backlog() == Backlog(visible=1, in_flight=0)
        again = spool.read(1, wait=5)
        assert [d.position for d in again] == [deliveries[0].position]


def test_consumed_rotated_files_are_deleted_but_the_newest_unfinished_file_is_kept(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    directory = copy_fixture(fixtures_dir / "fs_rotation" / "json", tmp_path / "spool")
    with FilesystemSpool(directory) as spool:
        deliveries = spool.read(10)
        assert len(deliveries) == 6
        spool.ack(deliveries[1:])  # the first record of fs_spool.1 is still in flight
        assert sorted(p.name for p in directory.glob("fs_spool.*")) == [
            "fs_spool.1",
            "fs_spool.2",
            "fs_spool.3",
        ]
        spool.ack(deliveries[:1])
        assert sorted(p.name for p in directory.glob("fs_spool.*")) == ["fs_spool.3"]


def test_consumed_files_ending_with_the_marker_are_all_deleted(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    directory = copy_fixture(fixtures_dir / "fs_rotation" / "byte_array", tmp_path / "spool")
    with FilesystemSpool(directory) as spool:
        spool.ack(spool.read(10))
    assert list(directory.glob("fs_spool.*")) == []


def test_finished_file_left_behind_by_a_crash_is_deleted_by_the_next_consumer(
    fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = copy_fixture(fixtures_dir / "fs_rotation" / "byte_array", tmp_path / "spool")
    with monkeypatch.context() as patched:
        # The process dies after saving its progress and before deleting consumed files.
        patched.setattr(SpoolConsumer, "_unlink", lambda *args: None)
        with FilesystemSpool(directory) as spool:
            spool.ack(spool.read(10))
    assert len(list(directory.glob("fs_spool.*"))) == 3
    assert progress(directory)["file"] == "fs_spool.3"
    with FilesystemSpool(directory) as spool:
        assert spool.read(10) == []
        assert spool.backlog() == Backlog(visible=0, in_flight=0)
    assert list(directory.glob("fs_spool.*")) == []


def test_reused_file_name_after_all_files_were_deleted_is_read_from_the_start(
    tmp_path: Path,
) -> None:
    data, _ = lines(3, tag="old")
    (tmp_path / "fs_spool.1").write_bytes(data)
    with FilesystemSpool(tmp_path) as spool:
        spool.ack(spool.read(10))
    os.unlink(tmp_path / "fs_spool.1")
    fresh, starts = lines(5, tag="new")  # longer than the old offset: size alone can't tell
    (tmp_path / "fs_spool.1").write_bytes(fresh)
    with FilesystemSpool(tmp_path) as spool:
        assert spool.backlog().visible == 5
        again = spool.read(10)
    assert [d.position for d in again] == [f"fs_spool.1@{offset}" for offset in starts]


def test_reused_file_name_shorter_than_the_saved_offset_is_read_from_the_start(
    tmp_path: Path,
) -> None:
    data, _ = lines(4, tag="old")
    (tmp_path / "fs_spool.2").write_bytes(data)
    with FilesystemSpool(tmp_path) as spool:
        spool.ack(spool.read(10))
    os.unlink(tmp_path / "fs_spool.2")
    fresh, _ = lines(1, tag="new")
    (tmp_path / "fs_spool.1").write_bytes(fresh)
    (tmp_path / "fs_spool.2").write_bytes(fresh)
    with FilesystemSpool(tmp_path) as spool:
        assert len(spool.read(10)) == 2


def test_running_consumer_follows_a_producer_that_restarted_at_file_one(tmp_path: Path) -> None:
    writer = FilesystemSpool(tmp_path, data_format="BYTE_ARRAY", max_file_size=700)
    old = sample_records(3, tag="old")
    writer.write(old)
    with FilesystemSpool(tmp_path) as consumer:
        consumer.ack(consumer.read(10))
        leftovers = sorted(p.name for p in tmp_path.glob("fs_spool.*"))
        for name in leftovers:  # the operator empties the spool; the producer restarts
            os.unlink(tmp_path / name)
        writer.close()
        new = sample_records(2, tag="new")
        restarted = FilesystemSpool(tmp_path, data_format="BYTE_ARRAY")
        restarted.write(new)
        restarted.close()
        assert (tmp_path / "fs_spool.1").exists()
        again = consumer.read(10)
        assert [d.record.payload for d in again if d.record] == [r.payload for r in new]


def test_second_consumer_is_refused_with_the_directory_and_holder_pid(tmp_path: Path) -> None:
    (tmp_path / "fs_spool.1").write_bytes(lines(1)[0])
    first = FilesystemSpool(tmp_path)
    assert len(first.read(10)) == 1
    second = FilesystemSpool(tmp_path)
    with pytest.raises(SpoolUnavailable) as refused:
        second.read(10)
    assert str(tmp_path) in str(refused.value) and str(os.getpid()) in str(refused.value)
    first.close()
    assert len(second.read(10)) == 1
    second.close()


def test_live_datarobot_dequeuer_lock_is_respected_and_a_stale_one_ignored(
    tmp_path: Path,
) -> None:
    (tmp_path / "fs_spool.1").write_bytes(lines(1)[0])
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f"agent_{holder.pid}.lock"
        live.write_text("")
        with (
            FilesystemSpool(tmp_path) as spool,
            pytest.raises(SpoolUnavailable, match=f"DataRobot.*{holder.pid}"),
        ):
            spool.read(1)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    live.unlink()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    (tmp_path / f"agent_{dead.pid}.lock").write_text("")
    with FilesystemSpool(tmp_path) as spool:
        assert len(spool.read(1)) == 1


def test_unreadable_progress_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "fs_spool.1").write_bytes(lines(1)[0])
    (tmp_path / PROGRESS).write_text("{not json")
    for _ in range(2):  # the refused consumer released its lock: the same error again
        spool = FilesystemSpool(tmp_path)
        with pytest.raises(ConfigError, match=PROGRESS):
            spool.read(1)
        spool.close()
    assert (tmp_path / PROGRESS).read_text() == "{not json"


def test_backlog_counts_records_across_files_and_in_flight(tmp_path: Path) -> None:
    records = sample_records(5)
    (tmp_path / "fs_spool.1").write_bytes(
        b"".join(encode_frame(r) for r in records[:2]) + bytes.fromhex("feedcafe")
    )
    (tmp_path / "fs_spool.2").write_bytes(b"".join(encode_json(r) + b"\n" for r in records[2:]))
    with FilesystemSpool(tmp_path) as spool:
        assert spool.backlog() == Backlog(visible=5, in_flight=0)
        first = spool.read(3)
        assert spool.backlog() == Backlog(visible=2, in_flight=3)
        spool.ack(first)
        assert spool.backlog() == Backlog(visible=2, in_flight=0)
        with (tmp_path / "fs_spool.2").open("ab") as handle:
            handle.write(encode_json(records[0]) + b"\n" + encode_json(records[1])[:20])
        assert spool.backlog() == Backlog(visible=3, in_flight=0)
        assert FilesystemSpool(tmp_path).backlog() == Backlog(visible=3, in_flight=0)


def test_read_waits_for_records_written_meanwhile(tmp_path: Path) -> None:
    data = lines(1)[0]
    with FilesystemSpool(tmp_path) as spool:
        assert spool.read(1) == []
        timer = threading.Timer(0.2, (tmp_path / "fs_spool.1").write_bytes, (data,))
        timer.start()
        try:
            assert len(spool.read(1, wait=10)) == 1
        finally:
            timer.join()


def test_peek_of_the_consumer_shows_nacked_and_unread_records_only(tmp_path: Path) -> None:
    data, starts = lines(5)
    (tmp_path / "fs_spool.1").write_bytes(data)
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(3)
        spool.ack([deliveries[1]])  # acked out of order: no longer waiting
        spool.nack([deliveries[2]])  # waiting again
        peeked = [d.position for d in spool.peek()]
        assert peeked == [f"fs_spool.1@{offset}" for offset in (starts[2], starts[3], starts[4])]
        assert [d.position for d in spool.peek(limit=1)] == [f"fs_spool.1@{starts[2]}"]
        assert spool.backlog() == Backlog(visible=3, in_flight=1)


def test_a_record_can_be_nacked_again_after_it_came_back(tmp_path: Path) -> None:
    (tmp_path / "fs_spool.1").write_bytes(lines(2)[0])
    with FilesystemSpool(tmp_path) as spool:
        first = spool.read(1)
        for _ in range(3):
            spool.nack(first)
            first = spool.read(1)
            assert first[0].redelivered and first[0].position == "fs_spool.1@0"
        spool.ack(first)
        rest = spool.read(10)
    assert len(rest) == 1 and not rest[0].redelivered


@pytest.mark.parametrize("data_format", ["JSON", "BYTE_ARRAY"])
def test_consumer_keeps_up_with_a_writer_process_through_rotations(
    tmp_path: Path, data_format: str
) -> None:
    count = 1500
    script = (
        "import sys\n"
        "from spoolwatch.spools.filesystem import FilesystemSpool\n"
        "from tests.spool_contract import sample_records\n"
        "spool = FilesystemSpool(sys.argv[1], data_format=sys.argv[2], max_file_size=20000,\n"
        "                        max_files=1000)\n"
        f"records = sample_records({count}, tag='w')\n"
        "for start in range(0, len(records), 7):\n"
        "    spool.write(records[start:start + 7])\n"
        "spool.close()\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, str(tmp_path), data_format], cwd=REPO)
    seen: list[object] = []
    try:
        with FilesystemSpool(tmp_path) as spool:
            deadline = time.monotonic() + 120
            while len(seen) < count and time.monotonic() < deadline:
                deliveries = spool.read(50, wait=0.5)
                assert all(d.error is None for d in deliveries), [d.error for d in deliveries]
                seen += [
                    d.record.payload.get("batchId")
                    or d.record.payload.get("message")
                    or d.record.payload.get("tag")
                    for d in deliveries
                    if d.record
                ]
                spool.ack(deliveries)
            assert spool.read(10, wait=0.2) == []
    finally:
        assert writer.wait(timeout=120) == 0
    assert seen == [f"w-{i}" for i in range(count)]
    assert len(list(tmp_path.glob("fs_spool.*"))) == 1  # consumed files were deleted
