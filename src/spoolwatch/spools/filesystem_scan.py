"""Reading records out of one spool file, front to back, in big chunks.

A :class:`FileStream` turns the bytes of one ``fs_spool.N`` file into deliveries. It reads
with ``pread`` in large chunks and hands out only complete records: JSON lines ending in
``\\n`` and binary frames whose ``20 + N`` bytes are all present. What happens at the end of
the available bytes depends on ``final`` (the file can no longer grow, because a newer file
exists or it was removed): an incomplete tail of a growing file waits; in a finished file it
becomes an error delivery, so the spool keeps draining.

Binary corruption is handled without guessing: a frame whose CRC-32 does not match becomes
an error delivery and reading goes on after it (its length is trustworthy enough to skip,
unless a valid frame starts inside it: then the frame was cut short and a later writer
appended after it, and reading goes on at that frame);
a bad magic or framing version means the length cannot be trusted, so the stream looks for
the next offset where a complete frame with magic, framing version 1 and a non-zero matching
CRC-32 starts. The skipped bytes become one error delivery naming file and offset. When no
such frame exists yet and the file may still grow, the stream waits.
"""

from __future__ import annotations

import os
import struct
import zlib

from spoolwatch.errors import DecodeError, RecordError
from spoolwatch.records import decode_json, decode_record_bytes, frame_record_id
from spoolwatch.spools.base import Delivery
from spoolwatch.spools.filesystem_files import END_BYTES, MAGIC_BYTES, detect_binary

__all__ = ["READ_CHUNK", "FileStream"]

READ_CHUNK = 4 << 20
_HEAD = struct.Struct(">IIIQ")
_MAGIC = 0xDEADBEEF
_HEAD_SIZE = 20


class FileStream:
    """Sequential reader of one spool file from byte ``offset``.

    ``token`` of each delivery is ``(gen, offset)``; ``consumed`` counts lines or frames
    passed (records, blank lines and skipped garbage), for backlog arithmetic; ``marker`` is
    set once the end-of-file marker was reached. ``pos`` stays in front of the marker, so
    progress saved there makes a restarted reader see the marker again and know the file is
    finished.
    """

    def __init__(self, fd: int, name: str, offset: int, *, gen: int, max_frame: int) -> None:
        self.fd = fd
        self.name = name
        self.gen = gen
        self.pos = offset
        self.max_frame = max_frame
        self.marker = False
        self.consumed = 0
        self.binary: bool | None = None
        self._buf = b""
        self._buf_start = offset
        self._scanned_to = offset

    # -- buffer -------------------------------------------------------------------------

    def _read_more(self, at_least: int = 1) -> bool:
        """Append the next chunk of the file to the buffer; False at the current end."""
        keep = self.pos - self._buf_start
        end = self._buf_start + len(self._buf)
        data = os.pread(self.fd, max(READ_CHUNK, at_least), end)
        if not data:
            return False
        if keep > 0:
            self._buf = self._buf[keep:] + data
            self._buf_start = self.pos
        else:
            self._buf += data
        return True

    def _detect(self) -> bool | None:
        if self.binary is None:
            self.binary = detect_binary(os.pread(self.fd, 4, 0))
        return self.binary

    def take(self, limit: int, final: bool) -> list[Delivery]:
        """Up to ``limit`` deliveries from the current position."""
        if self.marker or limit <= 0:
            return []
        binary = self._detect()
        if binary is None:
            return []
        return self._take_binary(limit, final) if binary else self._take_json(limit, final)

    def _delivery(self, raw: bytes, offset: int, error: RecordError | None = None) -> Delivery:
        return Delivery(None, raw, (self.gen, offset), f"{self.name}@{offset}", error=error)

    # -- JSON lines ---------------------------------------------------------------------

    def _take_json(self, limit: int, final: bool) -> list[Delivery]:
        out: list[Delivery] = []
        name, gen = self.name, self.gen
        while len(out) < limit:
            buf = self._buf
            i = self.pos - self._buf_start
            nl = buf.find(b"\n", max(i, self._scanned_to - self._buf_start))
            if nl < 0:
                self._scanned_to = self._buf_start + len(buf)
                if self._read_more():
                    continue
                if final and i < len(buf):
                    out.append(self._json_tail(buf[i:]))
                break
            line = buf[i:nl]
            offset = self.pos
            self.pos = self._buf_start + nl + 1
            self.consumed += 1
            if not line or line.isspace():
                continue
            position = f"{name}@{offset}"
            try:
                record = decode_json(line, source=name, offset=offset)
            except RecordError as exc:
                out.append(Delivery(None, line, (gen, offset), position, error=exc))
                continue
            if record.id is None:
                record.id = frame_record_id(line, position)
            out.append(Delivery(record, line, (gen, offset), position))
        return out

    def _json_tail(self, tail: bytes) -> Delivery:
        """The unterminated last line of a finished file: a record if it parses, else junk."""
        offset = self.pos
        self.pos += len(tail)
        self._scanned_to = self.pos
        self.consumed += 1
        position = f"{self.name}@{offset}"
        try:
            record = decode_json(tail, source=self.name, offset=offset)
        except RecordError:
            error = DecodeError(
                f"incomplete record of {len(tail)} bytes at the end of a finished spool file",
                source=self.name,
                offset=offset,
            )
            return self._delivery(tail, offset, error)
        if record.id is None:
            record.id = frame_record_id(tail, position)
        return Delivery(record, tail, (self.gen, offset), position)

    # -- binary frames ------------------------------------------------------------------

    def _take_binary(self, limit: int, final: bool) -> list[Delivery]:
        out: list[Delivery] = []
        while len(out) < limit:
            buf = self._buf
            i = self.pos - self._buf_start
            avail = len(buf) - i
            if avail >= 4 and buf[i : i + 4] == END_BYTES:
                self.marker = True
                break
            if avail < _HEAD_SIZE:
                if self._read_more():
                    continue
                if avail == 0:
                    break
                if (avail >= 4 and buf[i : i + 4] != MAGIC_BYTES) or final:
                    item = self._resync(final, "incomplete frame header")
                    if item is None:
                        break
                    out.append(item)
                    continue
                break
            magic, version, length, crc = _HEAD.unpack_from(buf, i)
            problem = None
            if magic != _MAGIC:
                problem = f"bad frame magic 0x{magic:08x}"
            elif version != 1:
                problem = f"unsupported framing version {version}"
            elif length > self.max_frame:
                problem = f"frame length {length} exceeds the spool's limit {self.max_frame}"
            if problem is None:
                end = i + _HEAD_SIZE + length
                if end > len(buf):
                    if self._read_more(end - len(buf)):
                        continue
                    if not final:
                        break
                    problem = "incomplete frame at the end of a finished spool file"
            if problem is not None:
                item = self._resync(final, problem)
                if item is None:
                    break
                out.append(item)
                continue
            item = self._frame(buf, i, end, crc, final)
            if item is None:
                break
            out.append(item)
        return out

    def _frame(self, buf: bytes, i: int, end: int, crc: int, final: bool) -> Delivery | None:
        """The frame at ``buf[i:end]``; ``None`` means wait for more bytes."""
        offset = self.pos
        body = buf[i + _HEAD_SIZE : end]
        if crc and zlib.crc32(body) != crc:
            span = self._mismatch_span(end - i, final)
            if span is None:
                return None
            buf, i = self._buf, self.pos - self._buf_start
            end = i + span
        raw = buf[i:end]
        self.pos = self._buf_start + end
        self.consumed += 1
        if crc and zlib.crc32(body) != crc:
            error = DecodeError(
                f"CRC-32 mismatch (frame says 0x{crc:08x}, bytes give 0x{zlib.crc32(body):08x})",
                source=self.name,
                offset=offset,
            )
            return self._delivery(raw, offset, error)
        position = f"{self.name}@{offset}"
        record_id = frame_record_id(body, position)
        try:
            record = decode_record_bytes(body, record_id=record_id, source=self.name, offset=offset)
        except RecordError as exc:
            return self._delivery(raw, offset, exc)
        return Delivery(record, raw, (self.gen, offset), position)

    def _mismatch_span(self, claimed: int, final: bool) -> int | None:
        """How many bytes a frame whose CRC-32 does not match covers; ``None``: wait.

        A frame cut short by a crashed writer, with the next writer's frames appended after
        it, claims a length that reaches into them: it ends where the first valid frame
        inside the claimed span starts (or may start, once its bytes are all written).
        """
        start = self.pos
        stop = start + claimed
        at = self._find_magic(start + 1, stop)
        while at is not None:
            verdict = self._valid_frame_at(at)
            if verdict:
                return at - start
            if verdict is None and not final:
                return None
            at = self._find_magic(at + 1, stop)
        if not final and self._magic_prefix_at_end(start + 1, stop):
            return None
        return claimed

    def _file_bytes(self, begin: int, end: int) -> bytes | None:
        """Bytes ``[begin, end)`` of the file (``begin >= pos``); ``None`` if not all written."""
        while self._buf_start + len(self._buf) < end:
            if not self._read_more(end - self._buf_start - len(self._buf)):
                return None
        return self._buf[begin - self._buf_start : end - self._buf_start]

    def _find_magic(self, begin: int, stop: int) -> int | None:
        """File offset of the first frame magic starting in ``[begin, stop)``."""
        self._file_bytes(begin, stop + 3)
        at = self._buf.find(MAGIC_BYTES, begin - self._buf_start, stop + 3 - self._buf_start)
        return None if at < 0 or at + self._buf_start >= stop else at + self._buf_start

    def _magic_prefix_at_end(self, begin: int, stop: int) -> bool:
        """Whether what is written so far ends with the first bytes of a magic in the span."""
        end = self._buf_start + len(self._buf)
        return any(
            begin <= end - k < stop and self._buf.endswith(MAGIC_BYTES[:k]) for k in (1, 2, 3)
        )

    def _valid_frame_at(self, at: int) -> bool | None:
        """Whether a complete checksummed frame starts at ``at``; ``None``: not all written."""
        head = self._file_bytes(at, at + _HEAD_SIZE)
        if head is None:
            return None
        version: int
        length: int
        crc: int
        _, version, length, crc = _HEAD.unpack(head)
        if version != 1 or crc == 0 or length > self.max_frame:
            return False
        body = self._file_bytes(at + _HEAD_SIZE, at + _HEAD_SIZE + length)
        if body is None:
            return None
        return zlib.crc32(body) == crc

    def _resync(self, final: bool, problem: str) -> Delivery | None:
        """Skip to the next trustworthy frame; ``None`` means wait for more bytes."""
        while self._read_more():
            pass
        buf = self._buf
        i = self.pos - self._buf_start
        target = _next_valid_frame(buf, i + 1, self.max_frame)
        if target is None:
            if not final:
                return None
            target = len(buf)
            if buf.endswith(END_BYTES) and target - 4 > i:
                target -= 4
            where = "to the end of the file"
        else:
            where = f"to the next valid frame at byte {self._buf_start + target}"
        offset = self.pos
        raw = buf[i:target]
        self.pos = self._buf_start + target
        self.consumed += 1
        error = DecodeError(
            f"{problem}; skipped {len(raw)} bytes {where}", source=self.name, offset=offset
        )
        return self._delivery(raw, offset, error)


def _next_valid_frame(buf: bytes, start: int, max_frame: int) -> int | None:
    """Offset of the first complete frame with magic, version 1 and a matching non-zero CRC."""
    at = buf.find(MAGIC_BYTES, start)
    while at >= 0:
        if at + _HEAD_SIZE <= len(buf):
            _, version, length, crc = _HEAD.unpack_from(buf, at)
            end = at + _HEAD_SIZE + length
            if (
                version == 1
                and crc != 0
                and length <= max_frame
                and end <= len(buf)
                and zlib.crc32(buf[at + _HEAD_SIZE : end]) == crc
            ):
                return at
        at = buf.find(MAGIC_BYTES, at + 1)
    return None
