"""The consuming side of a filesystem spool: cursor, in-flight records and committed prefix.

Records are read front to back through the spool files in index order. Each delivery's token
is ``(gen, offset)``: ``gen`` numbers the files in the order this consumer opened them (names
can be reused, indexes can restart at 1), ``offset`` is where the record starts. The
committed position is the start of the oldest record not yet acked — or the cursor when
nothing is outstanding — so the saved progress only ever covers a contiguous prefix of acked
records, whatever order acks arrive in. A file is deleted once the committed position has
moved past it (it was finished: a newer file existed or it ended with the marker).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from spoolwatch.spools.base import Delivery
from spoolwatch.spools.filesystem.files import (
    FINGERPRINT_BYTES,
    RecordCounter,
    SpoolFile,
    fingerprint,
    fingerprint_matches,
    list_spool_files,
)
from spoolwatch.spools.filesystem.scan import FileStream
from spoolwatch.spools.filesystem.state import Progress, load_progress, save_progress

__all__ = ["OpenFile", "SpoolConsumer", "resolve_start"]

logger = logging.getLogger(__name__)

Key = tuple[int, int]


@dataclass(slots=True, eq=False)
class OpenFile:
    """A spool file this consumer reads or still has records of in flight."""

    gen: int
    name: str
    index: int
    path: str
    fd: int
    dev: int
    ino: int
    base: int
    stream: FileStream
    fp: str = ""
    fp_len: int = -1
    deleted: bool = False


def resolve_start(
    directory: str, files: list[SpoolFile], *, announce: bool = False
) -> tuple[SpoolFile | None, int, bool]:
    """Where reading starts: (file, offset, whether that is the saved position).

    A file whose inode, size or first bytes no longer match the saved progress is a reused
    name (the spool was emptied and the producer restarted), so reading starts again at
    the oldest file, offset 0 (logged when ``announce`` is set).
    """
    oldest = files[0] if files else None
    progress = load_progress(directory)
    if progress is None:
        return oldest, 0, False
    for candidate in files:
        if candidate.name == progress.file and _same_file(candidate, progress):
            return candidate, progress.offset, True
    if oldest is not None and announce:
        logger.info(
            "spool progress names %s@%d, which is gone or was replaced; reading %s from the start",
            progress.file,
            progress.offset,
            oldest.name,
        )
    return oldest, 0, False


def _same_file(candidate: SpoolFile, progress: Progress) -> bool:
    if (candidate.dev, candidate.ino) != (progress.device, progress.inode):
        return False
    if candidate.size < progress.offset or candidate.size < progress.fingerprint_len:
        return False
    try:
        fd = os.open(candidate.path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        return fingerprint_matches(fd, progress.fingerprint, progress.fingerprint_len)
    finally:
        os.close(fd)


class SpoolConsumer:
    """Reads, tracks and commits records of one spool directory (holder of the lock)."""

    def __init__(self, directory: str, *, max_record: int, counter: RecordCounter) -> None:
        self.directory = directory
        self.max_record = max_record
        self.counter = counter
        self.files: dict[int, OpenFile] = {}
        self.cursor: OpenFile | None = None
        self._gens = itertools.count()
        self.outstanding: dict[Key, bool] = {}  # True: in flight, False: nacked, waiting
        self._order: deque[Key] = deque()
        # (due time, key, tie-breaker, delivery): a heap of nacked deliveries
        self._pending: list[tuple[float, Key, int, Delivery]] = []
        self._nacks = itertools.count()
        self._saved: Key | None = None

    # -- opening files ------------------------------------------------------------------

    def start(self) -> None:
        """Open the file where the saved progress points; drop files before it."""
        files = list_spool_files(self.directory)
        first, offset, resumed = resolve_start(self.directory, files, announce=True)
        if first is None:
            return
        if resumed:
            # Files before the saved one were consumed; a crash kept them from being deleted.
            for older in files:
                if older.index < first.index:
                    self._unlink(older.path, older.dev, older.ino)
        self.cursor = self._open(first, offset)
        if self.cursor is not None:
            self._saved = (self.cursor.gen, offset)

    def _open(self, spool_file: SpoolFile, offset: int) -> OpenFile | None:
        try:
            fd = os.open(spool_file.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        st = os.fstat(fd)
        gen = next(self._gens)
        opened = OpenFile(
            gen,
            spool_file.name,
            spool_file.index,
            spool_file.path,
            fd,
            st.st_dev,
            st.st_ino,
            offset,
            FileStream(fd, spool_file.name, offset, gen=gen, max_record=self.max_record),
        )
        self.files[gen] = opened
        return opened

    def close(self) -> None:
        """Close every file; un-acked records stay after the committed position."""
        for opened in self.files.values():
            os.close(opened.fd)
        self.files.clear()
        self.cursor = None

    # -- reading ------------------------------------------------------------------------

    def take(self, limit: int) -> list[Delivery]:
        """Up to ``limit`` deliveries: due nacked records first, then new ones."""
        out = self._take_pending(limit)
        while len(out) < limit:
            cursor = self.cursor
            if cursor is None:
                cursor = self.cursor = self._open_oldest_unknown()
                if cursor is None:
                    break
            out.extend(self._register(cursor.stream.take(limit - len(out), final=False)))
            if len(out) >= limit:
                break
            successor, finished = self._successor(cursor)
            if not finished:
                break
            room = limit - len(out)
            tail = cursor.stream.take(room, final=True)
            out.extend(self._register(tail))
            if len(tail) >= room or successor is None:
                break
            self.cursor = self._open(successor, 0)
        return out

    def _register(self, deliveries: list[Delivery]) -> list[Delivery]:
        outstanding, order = self.outstanding, self._order
        for delivery in deliveries:
            outstanding[delivery.token] = True
            order.append(delivery.token)
        return deliveries

    def _take_pending(self, limit: int) -> list[Delivery]:
        if not self._pending:
            return []
        now = time.monotonic()
        due: list[tuple[float, Key, int, Delivery]] = []
        while self._pending and self._pending[0][0] <= now:
            due.append(heapq.heappop(self._pending))
        due.sort(key=lambda item: item[1])
        out: list[Delivery] = []
        for item in due:
            _, key, _, delivery = item
            if self.outstanding.get(key) is not False:
                continue  # acked or quarantined meanwhile
            if len(out) >= limit:
                heapq.heappush(self._pending, item)
                continue
            self.outstanding[key] = True
            out.append(
                Delivery(
                    delivery.record,
                    delivery.raw,
                    key,
                    delivery.position,
                    error=delivery.error,
                    redelivered=True,
                )
            )
        return out

    def _known(self, spool_file: SpoolFile) -> bool:
        return any((f.dev, f.ino) == (spool_file.dev, spool_file.ino) for f in self.files.values())

    def _successor(self, cursor: OpenFile) -> tuple[SpoolFile | None, bool]:
        """The next file to read after ``cursor`` and whether ``cursor`` can no longer grow."""
        files = list_spool_files(self.directory)
        here = next((f for f in files if f.name == cursor.name), None)
        gone = cursor.deleted or here is None or (here.dev, here.ino) != (cursor.dev, cursor.ino)
        # If our file is gone, every file we do not know is unread: newer, or a reused name.
        later = [f for f in files if not self._known(f) and (gone or f.index > cursor.index)]
        successor = later[0] if later else None
        return successor, gone or cursor.stream.marker or successor is not None

    def _open_oldest_unknown(self) -> OpenFile | None:
        files = [f for f in list_spool_files(self.directory) if not self._known(f)]
        return self._open(files[0], 0) if files else None

    # -- acks ---------------------------------------------------------------------------

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Forget the deliveries and move the committed position over the acked prefix."""
        outstanding = self.outstanding
        for delivery in deliveries:
            outstanding.pop(delivery.token, None)
        self.commit()

    def nack(self, deliveries: Sequence[Delivery], delay: float) -> None:
        """Make in-flight deliveries readable again after ``delay`` seconds."""
        due = time.monotonic() + max(delay, 0.0)
        for delivery in deliveries:
            key = delivery.token
            if self.outstanding.get(key) is True:
                self.outstanding[key] = False
                heapq.heappush(self._pending, (due, key, next(self._nacks), delivery))

    def committed(self) -> Key | None:
        """The start of the oldest outstanding record, else the cursor."""
        order, outstanding = self._order, self.outstanding
        while order and order[0] not in outstanding:
            order.popleft()
        if order:
            return order[0]
        if self.cursor is None:
            return None
        return (self.cursor.gen, self.cursor.stream.pos)

    def commit(self) -> None:
        """Save the committed position if it moved, then delete files left behind."""
        key = self.committed()
        if key is None:
            return
        if key != self._saved:
            self._save(key)
        self._collect(key)

    def _save(self, key: Key) -> None:
        opened = self.files[key[0]]
        if opened.fp_len < FINGERPRINT_BYTES:
            opened.fp, opened.fp_len = fingerprint(opened.fd)
        save_progress(
            self.directory,
            Progress(
                file=opened.name,
                offset=key[1],
                device=opened.dev,
                inode=opened.ino,
                fingerprint=opened.fp,
                fingerprint_len=opened.fp_len,
            ),
        )
        self._saved = key

    def _collect(self, key: Key) -> None:
        for gen in sorted(self.files):
            opened = self.files[gen]
            if gen < key[0] and opened is not self.cursor:
                self._unlink(opened.path, opened.dev, opened.ino)
                os.close(opened.fd)
                del self.files[gen]
        cursor = self.cursor
        if (
            cursor is not None
            and cursor.stream.marker
            and not cursor.deleted
            and key == (cursor.gen, cursor.stream.pos)
        ):
            self._unlink(cursor.path, cursor.dev, cursor.ino)
            cursor.deleted = True

    def _unlink(self, path: str, dev: int, ino: int) -> None:
        """Delete a consumed file, but only if the name still refers to that file."""
        try:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) == (dev, ino):
                os.unlink(path)
                logger.debug("deleted consumed spool file %s", path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("cannot delete consumed spool file %s: %s", path, exc)

    # -- looking ------------------------------------------------------------------------

    def waiting(self, files: list[SpoolFile]) -> tuple[list[Delivery], list[tuple[SpoolFile, int]]]:
        """Nacked deliveries in spool order, and the (file, offset) stretches not read yet."""
        pending = {key: d for _, key, _, d in self._pending if self.outstanding.get(key) is False}
        nacked = [pending[key] for key in sorted(pending)]
        cursor = self.cursor
        if cursor is None:
            return nacked, [(f, 0) for f in files if not self._known(f)]
        here = next((f for f in files if (f.dev, f.ino) == (cursor.dev, cursor.ino)), None)
        gone = cursor.deleted or here is None
        plan = [] if here is None else [(here, cursor.stream.pos)]
        plan += [(f, 0) for f in files if not self._known(f) and (gone or f.index > cursor.index)]
        return nacked, plan

    # -- counts -------------------------------------------------------------------------

    def backlog(self) -> tuple[int, int]:
        """(visible, in flight): complete records after the cursor plus nacked ones."""
        in_flight = sum(1 for state in self.outstanding.values() if state)
        visible = len(self.outstanding) - in_flight
        cursor = self.cursor
        files = list_spool_files(self.directory)
        self.counter.forget_missing(files)
        if cursor is not None and not cursor.deleted:
            counted = self.counter.count(cursor.path, cursor.dev, cursor.ino, cursor.base)
            visible += max(counted - cursor.stream.consumed, 0)
        gone = (
            cursor is None
            or cursor.deleted
            or not any((f.dev, f.ino) == (cursor.dev, cursor.ino) for f in files)
        )
        for spool_file in files:
            if self._known(spool_file):
                continue
            if gone or (cursor is not None and spool_file.index > cursor.index):
                visible += self.counter.count(spool_file.path, spool_file.dev, spool_file.ino, 0)
        return visible, in_flight
