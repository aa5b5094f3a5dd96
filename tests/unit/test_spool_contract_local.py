"""The spool contract for the spools that need no service: memory and filesystem (both formats)."""

from __future__ import annotations

import os
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spoolwatch.records import MAGIC
from spoolwatch.spools.base import Spool
from spoolwatch.spools.filesystem import FilesystemSpool
from spoolwatch.spools.filesystem.files import list_spool_files
from spoolwatch.spools.memory import MemorySpool
from tests.spool_contract import SpoolContract, sample_records


class TestMemorySpoolContract(SpoolContract):
    empty_wait = 0.2

    @pytest.fixture
    def open_spool(self) -> Iterator[Callable[[], Spool]]:
        name = f"contract-{uuid.uuid4().hex}"
        yield lambda: MemorySpool(name)
        MemorySpool.reset(name)

    @pytest.fixture
    def put_undecodable(self) -> Callable[[Spool, bytes], None]:
        def put(spool: Spool, raw: bytes) -> None:
            assert isinstance(spool, MemorySpool)
            spool.write_raw(raw)

        return put

    def test_records_nacked_with_a_delay_come_back_before_newer_ones(self, spool: Spool) -> None:
        records = sample_records(3)
        spool.write(records)
        deliveries = self.read_n(spool, 1)
        spool.nack(deliveries, delay=0.05)
        time.sleep(0.1)
        again = self.read_n(spool, 3)
        self.assert_same_records(again, records)


def _append_to_newest(directory: str, data: bytes) -> None:
    files = list_spool_files(directory)
    name = files[-1].name if files else "fs_spool.1"
    with open(os.path.join(directory, name), "ab") as handle:
        handle.write(data)


class TestFilesystemJsonSpoolContract(SpoolContract):
    empty_wait = 0.2
    commits_a_prefix = True

    @pytest.fixture
    def open_spool(self, tmp_path: Path) -> Callable[[], Spool]:
        return lambda: FilesystemSpool(tmp_path, data_format="JSON")

    @pytest.fixture
    def put_undecodable(self) -> Callable[[Spool, bytes], None]:
        def put(spool: Spool, raw: bytes) -> None:
            assert isinstance(spool, FilesystemSpool)
            _append_to_newest(spool.directory, raw + b"\n")

        return put


class TestFilesystemBinarySpoolContract(SpoolContract):
    empty_wait = 0.2
    keeps_record_ids = False  # binary frames carry no id; readers give each a frame id
    commits_a_prefix = True

    @pytest.fixture
    def open_spool(self, tmp_path: Path) -> Callable[[], Spool]:
        return lambda: FilesystemSpool(tmp_path, data_format="BYTE_ARRAY")

    @pytest.fixture
    def put_undecodable(self) -> Callable[[Spool, bytes], None]:
        def put(spool: Spool, raw: bytes) -> None:
            # A well-framed frame (valid CRC) whose record bytes are not a record.
            assert isinstance(spool, FilesystemSpool)
            frame = struct.pack(">IIIQ", MAGIC, 1, len(raw), zlib.crc32(raw)) + raw
            _append_to_newest(spool.directory, frame)

        return put
