"""Checking binary frames in a spool file with ``pread``, in bounded memory.

These look at the file itself, not at a reader's buffer, and read at most one chunk at a
time (CRC-32 is computed chunk by chunk), so looking for the next valid frame in a file of
any size, or proving that a frame above the record size cap is one, never holds more than a
chunk.
"""

from __future__ import annotations

import os
import struct
import zlib

from spoolwatch.spools.filesystem.files import MAGIC_BYTES

__all__ = ["READ_CHUNK", "crc_of", "next_valid_frame", "valid_frame_at"]

#: How much of a spool file is read at once.
READ_CHUNK = 1 << 20
_HEAD_SIZE = 20


def crc_of(fd: int, begin: int, length: int) -> int | None:
    """CRC-32 of file bytes ``[begin, begin + length)``; ``None`` if not all are written."""
    crc, at, stop = 0, begin, begin + length
    while at < stop:
        chunk = os.pread(fd, min(READ_CHUNK, stop - at), at)
        if not chunk:
            return None
        crc = zlib.crc32(chunk, crc)
        at += len(chunk)
    return crc


def valid_frame_at(fd: int, at: int, max_record: int) -> bool | None:
    """Whether a complete frame with magic, framing version 1, a record of at most
    ``max_record`` bytes and a matching non-zero CRC-32 starts at ``at``; ``None``: not all
    of it is written yet."""
    head = os.pread(fd, _HEAD_SIZE, at)
    if len(head) < _HEAD_SIZE:
        return None
    magic: bytes
    version: int
    length: int
    crc: int
    magic, version, length, crc = struct.unpack(">4sIIQ", head)
    if magic != MAGIC_BYTES or version != 1 or crc == 0 or length > max_record:
        return False
    actual = crc_of(fd, at + _HEAD_SIZE, length)
    return None if actual is None else actual == crc


def next_valid_frame(fd: int, begin: int, max_record: int) -> int | None:
    """File offset of the first valid frame (see :func:`valid_frame_at`) at or after ``begin``."""
    at = begin
    while True:
        chunk = os.pread(fd, READ_CHUNK + 3, at)
        last = len(chunk) < READ_CHUNK + 3
        found = chunk.find(MAGIC_BYTES)
        # A magic starting in the 3 overlapping bytes is looked at with the next chunk.
        while found >= 0 and (last or found < READ_CHUNK):
            if valid_frame_at(fd, at + found, max_record):
                return at + found
            found = chunk.find(MAGIC_BYTES, found + 1)
        if last:
            return None
        at += READ_CHUNK
