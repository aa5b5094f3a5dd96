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

Memory stays bounded by the spool's record size cap (``max_record``) plus a chunk, whatever
the file holds. A line that does not end within a chunk is measured chunk by chunk instead of
being buffered, and read whole only if it fits the cap; a longer line, and a frame whose
length exceeds the cap (verified by its CRC-32, or without one by a frame or the end after
it), becomes a :class:`~spoolwatch.errors.RecordTooLarge` delivery that keeps only the first
KiB. Searching for the next valid frame reads the file in chunks, and a skipped stretch longer
than the cap also keeps only its first KiB.
"""

from __future__ import annotations

import os
import struct
import zlib

from spoolwatch.errors import DecodeError, RecordError, RecordTooLarge
from spoolwatch.records import decode_json, decode_record_bytes, frame_record_id
from spoolwatch.spools.base import Delivery
from spoolwatch.spools.filesystem.files import END_BYTES, MAGIC_BYTES, detect_binary
from spoolwatch.spools.filesystem.frames import (
    READ_CHUNK,
    crc_of,
    next_valid_frame,
    valid_frame_at,
)

__all__ = ["HEAD_KEPT", "READ_CHUNK", "FileStream"]

#: How much of a record above the cap (or of a long skipped stretch) a delivery keeps.
HEAD_KEPT = 1024
_HEAD = struct.Struct(">IIIQ")
_MAGIC = 0xDEADBEEF
_HEAD_SIZE = 20


class FileStream:
    """Sequential reader of one spool file from byte ``offset``.

    ``token`` of each delivery is ``(gen, offset)``; ``consumed`` counts lines or frames
    passed (records, blank lines and skipped garbage), for backlog arithmetic; ``marker`` is
    set once the end-of-file marker was reached. ``pos`` stays in front of the marker, so
    progress saved there makes a restarted reader see the marker again and know the file is
    finished. ``max_record`` is the largest record delivered whole (JSON line without its
    newline, binary record without its frame header).
    """

    def __init__(self, fd: int, name: str, offset: int, *, gen: int, max_record: int) -> None:
        self.fd = fd
        self.name = name
        self.gen = gen
        self.pos = offset
        self.max_record = max_record
        self.marker = False
        self.consumed = 0
        self.binary: bool | None = None
        self._buf = b""
        self._buf_start = offset
        self._scanned_to = offset
        # The first bytes of a long line being measured (its start is ``pos``), else None.
        self._long_head: bytes | None = None

    # -- buffer -------------------------------------------------------------------------

    def _read_more(self, at_least: int = 1) -> bool:
        """Append the next chunk of the file to the buffer; False at the current end."""
        keep = self.pos - self._buf_start
        end = self._buf_start + len(self._buf)
        data = os.pread(self.fd, max(READ_CHUNK, at_least), end)
        if not data:
            return False
        if keep > 0:
            self._buf = b"".join((memoryview(self._buf)[keep:], data))
            self._buf_start = self.pos
        else:
            self._buf += data
        return True

    def _jump(self, to: int) -> None:
        """Move ``pos`` to file offset ``to``, dropping the buffer if ``to`` lies outside it."""
        self.pos = to
        if not self._buf_start <= to <= self._buf_start + len(self._buf):
            self._buf, self._buf_start = b"", to
        self._scanned_to = max(self._scanned_to, to)

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

    def _too_large(self, head: bytes, offset: int, size: int, what: str) -> Delivery:
        error = RecordTooLarge(
            f"{what} of {size} bytes exceeds the spool's max_record_bytes {self.max_record} "
            f"(skipped; only its first {len(head)} bytes are kept)",
            size=size,
            limit=self.max_record,
            source=self.name,
            offset=offset,
        )
        return self._delivery(head, offset, error)

    # -- JSON lines ---------------------------------------------------------------------

    def _take_json(self, limit: int, final: bool) -> list[Delivery]:
        out: list[Delivery] = []
        name, gen = self.name, self.gen
        while len(out) < limit:
            if self._long_head is not None:
                measured = self._long_line(final)
                if measured is None:
                    break
                out.extend(measured)
                continue
            buf = self._buf
            i = self.pos - self._buf_start
            nl = buf.find(b"\n", max(i, self._scanned_to - self._buf_start))
            if nl < 0:
                self._scanned_to = self._buf_start + len(buf)
                if len(buf) - i >= READ_CHUNK:
                    # A line this long is measured chunk by chunk, never buffered whole.
                    self._long_head = buf[i : i + HEAD_KEPT]
                    self._buf, self._buf_start = b"", self._scanned_to
                    continue
                if self._read_more():
                    continue
                if final and i < len(buf):
                    out.append(self._json_tail(buf[i:]))
                break
            offset = self.pos
            self.pos = self._buf_start + nl + 1
            self.consumed += 1
            if nl - i > self.max_record:
                out.append(self._too_large(buf[i : i + HEAD_KEPT], offset, nl - i, "JSON line"))
                continue
            line = buf[i:nl]
            if not line or line.isspace():
                continue
            out.append(self._json_line(line, offset, name, gen))
        return out

    def _json_line(self, line: bytes, offset: int, name: str, gen: int) -> Delivery:
        position = f"{name}@{offset}"
        try:
            record = decode_json(line, source=name, offset=offset)
        except RecordError as exc:
            return Delivery(None, line, (gen, offset), position, error=exc)
        if record.id is None:
            record.id = frame_record_id(line, position)
        return Delivery(record, line, (gen, offset), position)

    def _long_line(self, final: bool) -> list[Delivery] | None:
        """Find the end of the long line at ``pos`` reading chunk by chunk; ``None``: wait."""
        start = self.pos
        while True:
            chunk = os.pread(self.fd, READ_CHUNK, self._scanned_to)
            if not chunk:
                if not final:
                    return None
                end = self._scanned_to
                self._buf, self._buf_start = b"", end
                return self._end_long_line(start, end, terminated=False)
            nl = chunk.find(b"\n")
            if nl >= 0:
                end = self._scanned_to + nl
                self._buf, self._buf_start, self._scanned_to = chunk[nl + 1 :], end + 1, end + 1
                return self._end_long_line(start, end, terminated=True)
            self._scanned_to += len(chunk)

    def _end_long_line(self, start: int, end: int, *, terminated: bool) -> list[Delivery]:
        """The long line ``[start, end)``: read whole if it fits the cap, else only its head."""
        head, self._long_head = self._long_head or b"", None
        size = end - start
        if size > self.max_record:
            self.pos = end + 1 if terminated else end
            self.consumed += 1
            what = "JSON line" if terminated else "unterminated JSON line at the end of the file"
            return [self._too_large(head, start, size, what)]
        line = os.pread(self.fd, size, start)
        if not terminated:
            return [self._json_tail(line)]
        self.pos = end + 1
        self.consumed += 1
        if line.isspace():
            return []
        return [self._json_line(line, start, self.name, self.gen)]

    def _json_tail(self, tail: bytes) -> Delivery:
        """The unterminated last line of a finished file: a record if it parses, else junk."""
        offset = self.pos
        self.pos += len(tail)
        self._scanned_to = self.pos
        self.consumed += 1
        if len(tail) > self.max_record:
            return self._too_large(tail[:HEAD_KEPT], offset, len(tail), "unterminated JSON line")
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
            elif length > self.max_record:
                large = self._large_frame(length, crc, final)
                if large is None:
                    break
                out.append(large)
                continue
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
            verdict = valid_frame_at(self.fd, at, self.max_record)
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

    def _large_frame(self, length: int, crc: int, final: bool) -> Delivery | None:
        """A frame claiming more than the cap: skipped by its length if it proves to be one.

        Its CRC-32 must match (read chunk by chunk); without a checksum, a frame, the end
        marker or the end of the file must follow it. Otherwise its length is not trusted
        and the stream resyncs. ``None`` means wait for more bytes.
        """
        offset = self.pos
        end = offset + _HEAD_SIZE + length
        if os.fstat(self.fd).st_size < end:
            if not final:
                return None
            return self._resync(
                final, f"frame of {length} bytes (above max_record_bytes) cut short"
            )
        if crc:
            proven = crc_of(self.fd, offset + _HEAD_SIZE, length) == crc
            doubt = "its CRC-32 does not match"
        else:
            after = os.pread(self.fd, 4, end)
            proven = MAGIC_BYTES.startswith(after) or END_BYTES.startswith(after)
            doubt = "no frame follows it"
        if not proven:
            return self._resync(
                final, f"frame length {length} exceeds max_record_bytes and {doubt}"
            )
        head = os.pread(self.fd, HEAD_KEPT, offset)
        self._jump(end)
        self.consumed += 1
        return self._too_large(head, offset, length, "binary record")

    def _resync(self, final: bool, problem: str) -> Delivery | None:
        """Skip to the next trustworthy frame; ``None`` means wait for more bytes."""
        offset = self.pos
        target = next_valid_frame(self.fd, offset + 1, self.max_record)
        if target is None:
            if not final:
                return None
            target = os.fstat(self.fd).st_size
            if target - 4 > offset and os.pread(self.fd, 4, target - 4) == END_BYTES:
                target -= 4
            where = "to the end of the file"
        else:
            where = f"to the next valid frame at byte {target}"
        skipped = target - offset
        kept = skipped if skipped <= self.max_record else HEAD_KEPT
        raw = os.pread(self.fd, kept, offset)
        self._jump(target)
        self.consumed += 1
        note = "" if kept == skipped else f" (only the first {kept} are kept)"
        error = DecodeError(
            f"{problem}; skipped {skipped} bytes {where}{note}",
            source=self.name,
            offset=offset,
            size=None if kept == skipped else skipped,
        )
        return self._delivery(raw, offset, error)
