"""Writing ``fs_spool.N`` files exactly as DataRobot's filesystem spooler does (spec §4.1).

* Continue with the newest file (by modification time, then index) while it has room and
  holds the same data format; otherwise open the next index. One deviation: a JSON file whose
  last line is unterminated (its writer crashed mid-record) is not appended to.
* Before a record that would push the file past ``max_file_size`` (binary: counting the
  4-byte end marker; JSON: DataRobot's estimate ``sys.getsizeof(text) + 1``), close the file
  — binary files get ``0xFEEDCAFE`` first — and open the next index.
* Refuse with "reached max capacity" (:class:`~spoolwatch.errors.SpoolUnavailable`: retry
  once a consumer has drained files) when a new file would exceed ``max_files`` or all files
  together would exceed ``max_file_size * max_files``. As in DataRobot's writer, a refused
  rotation has already finished the old file (binary: end marker written).
* Refuse a record longer than ``max_record_bytes`` (JSON text without the newline, binary
  record without the frame header; spoolwatch's cap, not DataRobot's) before writing anything.
* Every :meth:`SpoolWriter.write` call ends with its bytes handed to the OS: in the page
  cache, safe from the process crashing, not from a power loss (no ``fsync``, like
  DataRobot's writer). With ``fsync`` it ends with ``fsync`` of the file, and of the
  directory after it created a file, so the records (and the file's name) are on disk.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from spoolwatch.errors import InvalidRecord, SpoolUnavailable
from spoolwatch.records import Record, encode_frame, encode_json
from spoolwatch.spools.filesystem.files import (
    END_BYTES,
    SpoolFile,
    detect_binary,
    list_spool_files,
    spool_file_name,
)

__all__ = ["SpoolWriter"]

logger = logging.getLogger(__name__)

_FRAME_HEADER = 20


def _json_size_estimate(line: bytes) -> int:
    """DataRobot's size of one JSON record: ``sys.getsizeof(text) + 1`` (``line`` has ``\\n``)."""
    text = line[:-1]
    if text.isascii():
        return sys.getsizeof("") + len(text) + 1
    return sys.getsizeof(text.decode("utf-8")) + 1


class SpoolWriter:
    """Appends records to the spool files of one directory (one writer per directory)."""

    def __init__(
        self,
        directory: str,
        *,
        binary: bool,
        max_file_size: int,
        max_files: int,
        checksum: bool,
        max_record_bytes: int,
        fsync: bool = False,
    ) -> None:
        self.directory = directory
        self.binary = binary
        self.max_file_size = max_file_size
        self.max_files = max_files
        self.checksum = checksum
        self.max_record_bytes = max_record_bytes
        self.fsync = fsync
        self._fd: int | None = None
        self._index = 0
        self._size = 0
        self._total = 0

    def close(self) -> None:
        """Close the current file (no end marker: the newest file stays open for appends)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _encode(self, record: Record) -> tuple[bytes, int]:
        if self.binary:
            frame = encode_frame(record, checksum=self.checksum)
            self._check_cap(record, len(frame) - _FRAME_HEADER)
            return frame, len(frame) + len(END_BYTES)
        line = encode_json(record) + b"\n"
        self._check_cap(record, len(line) - 1)
        return line, _json_size_estimate(line)

    def _check_cap(self, record: Record, size: int) -> None:
        if size > self.max_record_bytes:
            raise InvalidRecord(
                f"a {record.type_name} record of {size} bytes is larger than the filesystem "
                f"spool's max_record_bytes {self.max_record_bytes} ({self.directory}); nothing "
                "was written. Report fewer rows per call (or set rows_per_record), or raise "
                "max_record_bytes together with the service's --max-body-bytes",
                record_id=record.id,
            )

    def write(self, records: Sequence[Record]) -> None:
        """Append ``records`` in order, rotating and refusing as DataRobot's writer does."""
        encoded = [self._encode(record) for record in records]  # bad records fail first
        for data, needed in encoded:
            if needed > self.max_file_size:
                raise InvalidRecord(
                    f"a record of {len(data)} bytes does not fit in a spool file of at "
                    f"most {self.max_file_size} bytes (max_file_size of {self.directory})"
                )
        self._ensure_open()
        pending: list[bytes] = []
        pending_size = 0
        for data, needed in encoded:
            size_now = self._size + pending_size
            if size_now > 0 and size_now + needed > self.max_file_size:
                self._flush(pending)
                pending, pending_size = [], 0
                self._rotate()
            if self._total + pending_size + len(data) > self.max_file_size * self.max_files:
                self._flush(pending)
                pending, pending_size = [], 0
                self._total = sum(f.size for f in list_spool_files(self.directory))
                if self._total + len(data) > self.max_file_size * self.max_files:
                    raise self._full(
                        f"the spool files would exceed {self.max_file_size * self.max_files} bytes"
                    )
            pending.append(data)
            pending_size += len(data)
        self._flush(pending)

    def _flush(self, chunks: list[bytes]) -> None:
        if not chunks:
            return
        assert self._fd is not None
        view = memoryview(b"".join(chunks))
        written = len(view)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            # Part of a record may have landed (disk full). Choose the file again before the
            # next write, so that a line cut short is not appended to: the next record would
            # join it and be lost with it.
            self.close()
            raise
        if self.fsync:
            os.fsync(self._fd)
        self._size += written
        self._total += written

    def _full(self, why: str) -> SpoolUnavailable:
        return SpoolUnavailable(
            f"filesystem spool {self.directory} reached max capacity ({self.max_files} files "
            f"of at most {self.max_file_size} bytes): {why}; a consumer must drain it"
        )

    def _ensure_open(self) -> None:
        if self._fd is not None:
            try:
                if os.fstat(self._fd).st_nlink > 0:
                    return
            except OSError:
                pass
            # Our file was removed (the spool was emptied by hand): start over like a restart.
            logger.info(
                "spool file %s was removed; choosing the file to write again",
                spool_file_name(self._index),
            )
            self.close()
        files = list_spool_files(self.directory)
        self._total = sum(f.size for f in files)
        if files:
            newest = max(files, key=lambda f: (f.mtime, f.index))
            if self._can_append(newest):
                self._open(newest.index)
                return
        self._open_next(files)

    def _can_append(self, newest: SpoolFile) -> bool:
        if newest.size == 0:
            return True
        with open(newest.path, "rb") as handle:
            head = handle.read(4)
            is_binary = detect_binary(head)
            if is_binary is not None and is_binary != self.binary:
                return False
            handle.seek(max(newest.size - 4, 0))
            tail = handle.read(4)
        if self.binary:
            return tail != END_BYTES
        # A line cut short by a crashed writer would swallow our first record; DataRobot's
        # writer appends anyway, we start the next file and leave the stub to the reader.
        return tail.endswith(b"\n") and newest.size < self.max_file_size

    def _open_next(self, files: list[SpoolFile]) -> None:
        if len(files) + 1 > self.max_files:
            raise self._full(f"{len(files)} files exist and max_files is {self.max_files}")
        self._open(max((f.index for f in files), default=0) + 1)

    def _open(self, index: int) -> None:
        path = os.path.join(self.directory, spool_file_name(index))
        flags = os.O_WRONLY | os.O_APPEND
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            fd = os.open(path, flags | os.O_CREAT, 0o644)
            if self.fsync:
                self._fsync_directory()
        self._fd = fd
        self._index = index
        self._size = os.fstat(fd).st_size

    def _fsync_directory(self) -> None:
        """Make a new file's name durable: ``fsync`` the directory entry that holds it."""
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _rotate(self) -> None:
        # DataRobot's order: finish the file (binary: end marker), then try the next one.
        # A refused rotation therefore leaves a finished file, which a consumer may delete.
        assert self._fd is not None
        if self.binary:
            os.write(self._fd, END_BYTES)
            self._total += len(END_BYTES)
            if self.fsync:
                os.fsync(self._fd)
        self.close()
        files = list_spool_files(self.directory)
        if len(files) + 1 > self.max_files:
            raise self._full(f"{len(files)} files exist and max_files is {self.max_files}")
        self._open(max([f.index for f in files] + [self._index]) + 1)
