"""Background writing: the model hands built records to a bounded buffer and goes on.

One daemon thread owns the spool and writes the buffered reports in order. A ``report_*``
call waits at most ``max_block_seconds`` for room; when the buffer stays full the report is
dropped and *counted*, never hidden: the counts are exposed (:attr:`BackgroundWriter.dropped`),
logged (rate-limited) and written into the spool as an EVENT record as soon as it takes writes
again. A failed spool write is retried with back-off a few times, then counted as dropped;
a report the spool refuses as a bad record (larger than its record size cap) is dropped at
once, with an error log saying why, since writing it again cannot succeed.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spoolwatch.errors import ConfigError, RecordError
from spoolwatch.records import Record
from spoolwatch.spools.base import Spool

__all__ = ["BackgroundWriter", "Dropped"]

log = logging.getLogger(__name__)

_WARN_EVERY_SECONDS = 10.0
#: How long the interpreter's exit waits for buffered reports when close() was never called.
AT_EXIT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Dropped:
    """Reports (and their records) that were not written, by why."""

    reports: int = 0
    records: int = 0
    #: reports dropped because the buffer stayed full for ``max_block_seconds``
    buffer_full: int = 0
    #: reports dropped after every write attempt failed (or left in the buffer at close)
    write_failed: int = 0

    def add(self, records: int, *, buffer_full: bool) -> Dropped:
        """These counts plus one more dropped report of ``records`` records."""
        return Dropped(
            self.reports + 1,
            self.records + records,
            self.buffer_full + (1 if buffer_full else 0),
            self.write_failed + (0 if buffer_full else 1),
        )

    def minus(self, other: Dropped) -> Dropped:
        """The counts added since ``other`` was taken."""
        return Dropped(
            self.reports - other.reports,
            self.records - other.records,
            self.buffer_full - other.buffer_full,
            self.write_failed - other.write_failed,
        )


#: Builds the EVENT record telling of drops: ``(totals, since_last_event) -> record``;
#: ``None`` when it cannot (no deployment id known).
DropEventFactory = Callable[[Dropped, Dropped], Record | None]


class BackgroundWriter:
    """A bounded buffer of built reports and the one thread that writes them to the spool."""

    def __init__(
        self,
        spool: Spool,
        *,
        buffer_size: int,
        max_block_seconds: float,
        write_retries: int,
        drop_event: DropEventFactory,
        retry_backoff: float = 0.1,
        idle_poll: float = 0.1,
    ) -> None:
        self._spool = spool
        self._queue: queue.Queue[list[Record]] = queue.Queue(maxsize=buffer_size)
        self._max_block = max_block_seconds
        self._write_retries = write_retries
        self._retry_backoff = retry_backoff
        self._idle_poll = idle_poll
        self._drop_event = drop_event
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._dropped = Dropped()
        self._reported = Dropped()
        self._last_warning = 0.0
        self._stopping = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="spoolwatch-reporter", daemon=True)
        self._thread.start()
        # A model that never calls close() should still get its buffered reports written.
        atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        if not self._closed:
            self.close(AT_EXIT_SECONDS)

    @property
    def dropped(self) -> Dropped:
        """Everything dropped so far."""
        with self._lock:
            return self._dropped

    @property
    def pending(self) -> int:
        """Reports buffered or being written."""
        with self._lock:
            return self._pending

    def submit(self, records: list[Record]) -> bool:
        """Buffer one report's records; ``False`` (and counted) when the buffer stayed full."""
        if self._closed:
            raise ConfigError("the reporter is closed")
        with self._lock:
            self._pending += 1
        try:
            if self._max_block > 0:
                self._queue.put(records, timeout=self._max_block)
            else:
                self._queue.put_nowait(records)
        except queue.Full:
            self._finish(records, dropped=True, buffer_full=True)
            return False
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every buffered report was written or dropped; ``False`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Stop taking reports, write what is buffered (up to ``timeout`` s), stop the thread.

        Reports still buffered when the time is up are counted as dropped. ``True`` when the
        writer thread has finished (the spool may then be closed).
        """
        self._closed = True
        atexit.unregister(self._at_exit)
        drained = self.flush(timeout)
        self._stopping.set()
        self._thread.join(None if drained else 0.0)
        while True:
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                break
            self._finish(left, dropped=True, buffer_full=False)
        if not self._thread.is_alive():
            self._report_drops()
        totals = self.dropped
        if totals.reports:
            log.warning(
                "reporter closed; %d reports (%d records) were dropped in all "
                "(buffer full: %d, write failed: %d)",
                totals.reports,
                totals.records,
                totals.buffer_full,
                totals.write_failed,
            )
        return not self._thread.is_alive()

    def _finish(self, records: Sequence[Record], *, dropped: bool, buffer_full: bool) -> None:
        with self._idle:
            if dropped:
                self._dropped = self._dropped.add(len(records), buffer_full=buffer_full)
            self._pending -= 1
            self._idle.notify_all()
        if dropped:
            self._warn()

    def _warn(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_warning < _WARN_EVERY_SECONDS and self._last_warning:
                return
            self._last_warning = now
            totals = self._dropped
        log.warning(
            "reporter dropped %d reports (%d records) so far (buffer full: %d, write failed: "
            "%d); the spool is slower than the model reports",
            totals.reports,
            totals.records,
            totals.buffer_full,
            totals.write_failed,
        )

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                records = self._queue.get(timeout=self._idle_poll)
            except queue.Empty:
                self._report_drops()
                continue
            self._report_drops()
            ok = self._write(records)
            self._finish(records, dropped=not ok, buffer_full=False)

    def _write(self, records: list[Record]) -> bool:
        delay = self._retry_backoff
        for attempt in range(self._write_retries + 1):
            try:
                self._spool.write(records)
                return True
            except RecordError as exc:
                log.error("the spool refused a report, dropping %d records: %s", len(records), exc)
                return False
            except Exception as exc:  # any spool failure: retry, then count; never kill the thread
                if attempt == self._write_retries:
                    log.error(
                        "spool write failed %d times, dropping %d records: %s",
                        attempt + 1,
                        len(records),
                        exc,
                    )
                    return False
                log.warning(
                    "spool write failed (attempt %d), retrying in %.2fs: %s",
                    attempt + 1,
                    delay,
                    exc,
                )
                time.sleep(delay)
                delay *= 2
        return False

    def _report_drops(self) -> None:
        with self._lock:
            totals = self._dropped
            since = totals.minus(self._reported)
        if since.reports == 0:
            return
        record = self._drop_event(totals, since)
        if record is not None:
            try:
                self._spool.write([record])
            except Exception as exc:  # the spool is still failing: tell it on a later pass
                log.debug("could not write the drop event yet: %s", exc)
                return
        with self._lock:
            self._reported = totals
