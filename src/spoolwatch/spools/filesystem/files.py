"""The files of a filesystem spool directory: names, order, format, identity and counts.

DataRobot's writer names its files ``fs_spool.<N>`` (N = 1, 2, ... without padding) and
appends to the newest. Readers order files by that integer suffix. A file's identity is its
inode plus a fingerprint of its first bytes, because names are reused when every file was
deleted and the producer restarted.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

from spoolwatch.records import END_MARKER, MAGIC

__all__ = [
    "END_BYTES",
    "FINGERPRINT_BYTES",
    "MAGIC_BYTES",
    "SPOOL_PREFIX",
    "RecordCounter",
    "SpoolFile",
    "detect_binary",
    "fingerprint",
    "list_spool_files",
    "spool_file_name",
]

SPOOL_PREFIX = "fs_spool."
FINGERPRINT_BYTES = 256
MAGIC_BYTES = struct.pack(">I", MAGIC)
END_BYTES = struct.pack(">I", END_MARKER)
_FRAME_HEAD = struct.Struct(">IIIQ")
_COUNT_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SpoolFile:
    """One ``fs_spool.N`` file as seen by a directory listing."""

    name: str
    index: int
    path: str
    size: int
    mtime: float
    ino: int
    dev: int


def spool_file_name(index: int) -> str:
    """``fs_spool.<index>``, as DataRobot's writer names its files."""
    return f"{SPOOL_PREFIX}{index}"


def _index_of(name: str) -> int | None:
    if not name.startswith(SPOOL_PREFIX):
        return None
    suffix = name[len(SPOOL_PREFIX) :]
    # Only the canonical decimal form: "fs_spool.01" is not DataRobot's and would collide.
    if not suffix.isascii() or not suffix.isdigit() or str(int(suffix)) != suffix:
        return None
    return int(suffix)


def list_spool_files(directory: str) -> list[SpoolFile]:
    """The spool files in ``directory``, ordered by their integer suffix."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            index = _index_of(entry.name)
            if index is None:
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue  # deleted while listing
            if not os.path.isfile(entry.path):
                continue
            found.append(
                SpoolFile(
                    entry.name, index, entry.path, st.st_size, st.st_mtime, st.st_ino, st.st_dev
                )
            )
    found.sort(key=lambda f: f.index)
    return found


def detect_binary(head: bytes) -> bool | None:
    """Binary frames start with ``DE AD BE EF``; anything else is JSON lines.

    ``None`` while too few bytes are present to tell (an empty file, or a first byte 0xDE).
    """
    if len(head) >= 4:
        return head[:4] == MAGIC_BYTES
    if head and head[0] != MAGIC_BYTES[0]:
        return False
    return None


def fingerprint(fd: int) -> tuple[str, int]:
    """A hash of the file's first bytes (which never change in an append-only file)."""
    head = os.pread(fd, FINGERPRINT_BYTES, 0)
    return hashlib.blake2b(head, digest_size=16).hexdigest(), len(head)


def fingerprint_matches(fd: int, expected: str, length: int) -> bool:
    """Whether the first ``length`` bytes still hash to ``expected``."""
    head = os.pread(fd, length, 0)
    return len(head) == length and hashlib.blake2b(head, digest_size=16).hexdigest() == expected


class RecordCounter:
    """Counts complete records in spool files, cached per (file, start offset) by size.

    Counting a grown file only reads the bytes added since the last count, so calling
    :meth:`count` often (for backlog figures) stays cheap. A frame above the spool's record
    size cap counts as one record (the reader delivers it as one error delivery).
    """

    def __init__(self) -> None:
        # (dev, ino, start) -> [scanned_to, count, stopped]
        self._cache: dict[tuple[int, int, int], list[int]] = {}

    def forget_missing(self, files: list[SpoolFile]) -> None:
        """Drop cache entries of files that no longer exist."""
        alive = {(f.dev, f.ino) for f in files}
        for key in [k for k in self._cache if (k[0], k[1]) not in alive]:
            del self._cache[key]

    def count(self, path: str, dev: int, ino: int, start: int) -> int:
        """Complete records from byte ``start`` to the current end of the file."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (dev, ino):
                return 0
            entry = self._cache.setdefault((dev, ino, start), [start, 0, 0])
            if entry[2] or st.st_size <= entry[0]:
                return entry[1]
            binary = detect_binary(os.pread(fd, 4, 0))
            if binary:
                self._count_frames(fd, st.st_size, entry)
            elif binary is False:
                self._count_lines(fd, st.st_size, entry)
            return entry[1]
        finally:
            os.close(fd)

    @staticmethod
    def _count_lines(fd: int, size: int, entry: list[int]) -> None:
        pos = entry[0]
        while pos < size:
            chunk = os.pread(fd, min(_COUNT_CHUNK, size - pos), pos)
            if not chunk:
                break
            entry[1] += chunk.count(b"\n")
            pos += len(chunk)
        entry[0] = pos

    @staticmethod
    def _count_frames(fd: int, size: int, entry: list[int]) -> None:
        pos = entry[0]
        while pos < size:
            chunk = os.pread(fd, min(max(_COUNT_CHUNK, 20), size - pos), pos)
            i, progressed = 0, False
            while True:
                if chunk[i : i + 4] == END_BYTES:
                    entry[2] = 1
                    entry[0] = pos + i
                    return
                if len(chunk) - i < 20:
                    break
                magic, version, length, _ = _FRAME_HEAD.unpack_from(chunk, i)
                if magic != MAGIC or version != 1:
                    # Corrupt bytes: the reader turns them into one error delivery.
                    entry[1] += 1
                    entry[2] = 1
                    entry[0] = pos + i
                    return
                if pos + i + 20 + length > size:
                    entry[0] = pos + i
                    return
                if i + 20 + length > len(chunk):
                    break  # frame crosses the chunk boundary: read again from its start
                entry[1] += 1
                i += 20 + length
                progressed = True
            if not progressed and i == 0 and len(chunk) >= 20:
                # One frame larger than the chunk: skip it by its length.
                length = _FRAME_HEAD.unpack_from(chunk, 0)[2]
                entry[1] += 1
                i = 20 + length
            pos += i
            if i == 0:
                break
        entry[0] = pos
