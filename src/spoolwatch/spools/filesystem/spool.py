"""The filesystem spool: a directory of DataRobot ``fs_spool.N`` files (spec §4.1).

Reads and writes both of DataRobot's file formats — JSON lines and binary frames — detected
per file from its first 4 bytes, so files written by DataRobot's library are consumed and
files written here can be read by DataRobot's agent.

Beside the spool files the consumer keeps its own progress file, lock file and
``quarantine/`` directory (see :mod:`spoolwatch.spools.filesystem.state`); it never touches
DataRobot's ``spool_meta.consumer``. Only one consumer reads a directory at a time (the
lock is taken on the first read and released by :meth:`FilesystemSpool.close`); writers take
no lock. :meth:`FilesystemSpool.peek` and :meth:`FilesystemSpool.backlog` work without the
lock, from the saved progress, so ``spool inspect`` can look at a spool an agent is draining.

Records are capped at ``max_record_bytes`` on both sides: the writer refuses a longer record
and the reader skips a longer line or frame without holding it in memory, delivering it as a
:class:`~spoolwatch.errors.RecordTooLarge` error that keeps its size, offset and first KiB
(for the quarantine).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from spoolwatch.errors import ConfigError, SpoolUnavailable
from spoolwatch.records import Record
from spoolwatch.spools.base import Backlog, Delivery, QuarantinedItem, Spool
from spoolwatch.spools.filesystem.consumer import SpoolConsumer, resolve_start
from spoolwatch.spools.filesystem.files import RecordCounter, SpoolFile, list_spool_files
from spoolwatch.spools.filesystem.scan import FileStream
from spoolwatch.spools.filesystem.state import ConsumerLock, QuarantineLog
from spoolwatch.spools.filesystem.writer import SpoolWriter

__all__ = [
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_MAX_RECORD_BYTES",
    "FilesystemSpool",
    "from_url",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_FILE_SIZE = 1_073_741_824
DEFAULT_MAX_FILES = 10
#: The service's default request body limit (``ServerSettings.max_body_bytes``): a larger
#: record could not be delivered to it anyway. A test keeps the two equal.
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
_DATA_FORMATS = ("JSON", "BYTE_ARRAY")
_POLL_SECONDS = 0.05
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}


class FilesystemSpool(Spool):
    """A spool directory in DataRobot's filesystem format.

    ``data_format`` (``"JSON"`` or ``"BYTE_ARRAY"``), ``max_file_size``, ``max_files`` and
    ``checksum`` mean what DataRobot's ``MLOPS_SPOOLER_DATA_FORMAT``,
    ``MLOPS_FILESYSTEM_MAX_FILE_SIZE``, ``MLOPS_FILESYSTEM_MAX_NUM_FILES`` and
    ``MLOPS_SPOOLER_CHECKSUM`` mean; they matter for writing (reading detects the format per
    file). ``create`` makes the directory if it does not exist.

    ``max_record_bytes`` caps one record (a JSON line without its newline, a binary record
    without its frame header) for writing and reading. With ``fsync`` every :meth:`write`
    ends with ``fsync`` of the file (and of the directory when it created a file), so what
    it wrote survives a power loss; without it (the default, as in DataRobot's library) the
    records are in the OS page cache when :meth:`write` returns, which survives the process
    crashing but not the machine.
    """

    transport = "filesystem"
    record_byte_limit = 104_857_600

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        data_format: str = "JSON",
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        max_files: int = DEFAULT_MAX_FILES,
        checksum: bool = True,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        fsync: bool = False,
        create: bool = False,
    ) -> None:
        if data_format not in _DATA_FORMATS:
            raise ConfigError(
                f"filesystem spool data_format must be one of {', '.join(_DATA_FORMATS)}, "
                f"got {data_format!r}"
            )
        for option, value in (
            ("max_file_size", max_file_size),
            ("max_files", max_files),
            ("max_record_bytes", max_record_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(
                    f"filesystem spool {option} must be a positive integer, got {value!r}"
                )
        path = os.path.abspath(os.fspath(directory))
        if not os.path.isdir(path):
            if os.path.exists(path):
                raise ConfigError(f"filesystem spool directory {path} is not a directory")
            if not create:
                raise ConfigError(missing_directory_message(path))
            os.makedirs(path, exist_ok=True)
        self._directory = path
        self.data_format = data_format
        self.max_file_size = max_file_size
        self.max_files = max_files
        self.checksum = bool(checksum)
        self.max_record_bytes = max_record_bytes
        self.fsync = bool(fsync)
        # DataRobot splits reports by min(max file size, 100 MiB) for this spooler (§4.0);
        # the cap above is separate, so reports split exactly where DataRobot splits them.
        self.record_byte_limit = min(max_file_size, FilesystemSpool.record_byte_limit)
        self._counter = RecordCounter()
        self._lock = ConsumerLock(path)
        self._quarantine = QuarantineLog(path)
        self._writer: SpoolWriter | None = None
        self._consumer: SpoolConsumer | None = None

    @property
    def name(self) -> str:
        return self._directory

    @property
    def directory(self) -> str:
        """The spool directory (absolute)."""
        return self._directory

    def __repr__(self) -> str:
        return f"FilesystemSpool({self._directory!r}, data_format={self.data_format!r})"

    @contextmanager
    def _os_errors(self, action: str) -> Iterator[None]:
        """OS errors become spoolwatch errors: a permission problem is setup, the rest transient."""
        try:
            yield
        except PermissionError as exc:
            raise ConfigError(
                f"filesystem spool {self._directory}: cannot {action}: {exc}"
            ) from exc
        except OSError as exc:
            raise SpoolUnavailable(
                f"filesystem spool {self._directory}: cannot {action}: {exc}"
            ) from exc

    # -- writing ------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        if not records:
            return
        with self._os_errors("write"):
            self._write(records)

    def _write(self, records: Sequence[Record]) -> None:
        if self._writer is None:
            self._writer = SpoolWriter(
                self._directory,
                binary=self.data_format == "BYTE_ARRAY",
                max_file_size=self.max_file_size,
                max_files=self.max_files,
                checksum=self.checksum,
                max_record_bytes=self.max_record_bytes,
                fsync=self.fsync,
            )
        self._writer.write(records)

    # -- consuming ----------------------------------------------------------------------

    def _consume(self) -> SpoolConsumer:
        if self._consumer is None:
            self._lock.acquire()
            consumer = SpoolConsumer(
                self._directory, max_record=self.max_record_bytes, counter=self._counter
            )
            try:
                consumer.start()
            except BaseException:
                consumer.close()
                self._lock.release()
                raise
            self._consumer = consumer
        return self._consumer

    def read(self, max_records: int, wait: float = 0.0) -> list[Delivery]:
        if max_records <= 0:
            return []
        with self._os_errors("read"):
            consumer = self._consume()
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            with self._os_errors("read"):
                deliveries = consumer.take(max_records)
            if deliveries:
                return deliveries
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(remaining, _POLL_SECONDS))

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if self._consumer is not None and deliveries:
            with self._os_errors("save progress"):
                self._consumer.ack(deliveries)

    def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        if self._consumer is not None and deliveries:
            self._consumer.nack(deliveries, delay)

    def quarantine(self, deliveries: Sequence[Delivery], reason: str) -> None:
        if not deliveries:
            return
        with self._os_errors("quarantine"):
            self._quarantine.append(deliveries, reason)
        logger.info("quarantined %d record(s) of %s: %s", len(deliveries), self._directory, reason)
        self.ack(deliveries)

    def quarantined(self, limit: int | None = None) -> Iterator[QuarantinedItem]:
        return self._quarantine.items(limit)

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.commit()
            except OSError as exc:
                # Un-saved progress only means some records are delivered again.
                logger.warning("could not save progress of %s on close: %s", self._directory, exc)
            finally:
                self._consumer.close()
                self._consumer = None
                self._lock.release()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- looking without consuming ------------------------------------------------------

    def backlog(self) -> Backlog:
        with self._os_errors("count records"):
            return self._backlog()

    def _backlog(self) -> Backlog:
        if self._consumer is not None:
            visible, in_flight = self._consumer.backlog()
            return Backlog(visible=visible, in_flight=in_flight)
        files = list_spool_files(self._directory)
        self._counter.forget_missing(files)
        first, offset, _ = resolve_start(self._directory, files)
        if first is None:
            return Backlog(visible=0)
        visible = 0
        for spool_file in files:
            if spool_file.index >= first.index:
                start = offset if spool_file is first else 0
                visible += self._counter.count(
                    spool_file.path, spool_file.dev, spool_file.ino, start
                )
        return Backlog(visible=visible)

    def peek(self, limit: int | None = None) -> Iterator[Delivery]:
        """Waiting records from the committed position on; takes no lock, consumes nothing."""
        if limit is not None and limit <= 0:
            return
        pending, plan = self._peek_plan()
        yielded = 0
        for delivery in pending:
            yield delivery
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        for index, (spool_file, offset) in enumerate(plan):
            final_by_successor = index + 1 < len(plan)
            scan = _scan_file(spool_file, offset, final_by_successor, self.max_record_bytes)
            for delivery in scan:
                yield delivery
                yielded += 1
                if limit is not None and yielded >= limit:
                    return

    def _peek_plan(self) -> tuple[list[Delivery], list[tuple[SpoolFile, int]]]:
        """What waits: nacked deliveries, then (file, offset) stretches not read yet."""
        files = list_spool_files(self._directory)
        if self._consumer is not None:
            return self._consumer.waiting(files)
        first, offset, _ = resolve_start(self._directory, files)
        if first is None:
            return [], []
        return [], [(f, offset if f is first else 0) for f in files if f.index >= first.index]


def _scan_file(
    spool_file: SpoolFile, offset: int, has_successor: bool, max_record: int
) -> Iterator[Delivery]:
    """Every complete record of one file from ``offset`` (for peek)."""
    try:
        fd = os.open(spool_file.path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        stream = FileStream(fd, spool_file.name, offset, gen=-1, max_record=max_record)
        while True:
            batch = stream.take(256, final=False)
            if not batch:
                batch = stream.take(256, final=has_successor)
                if not batch:
                    return
            yield from batch
    finally:
        os.close(fd)


def missing_directory_message(path: str) -> str:
    """What to do about a spool directory that does not exist, naming the ``create`` option
    as it is written in an address and in Python."""
    url = "file://" + quote(path) + "?create=true"
    return (
        f"filesystem spool directory {path} does not exist; create it, or let spoolwatch "
        f"create it: address {url} (Reporter or agent channel), or create=True in Python "
        "(Reporter(..., create=True), FilesystemSpool(..., create=True))"
    )


_INT_OPTIONS = ("max_file_size", "max_files", "max_record_bytes")
_BOOL_OPTIONS = ("checksum", "fsync", "create")


def _coerce(options: dict[str, Any]) -> dict[str, Any]:
    """Options from a URL query or a config file arrive as text; make them typed."""
    known = {"data_format", *_INT_OPTIONS, *_BOOL_OPTIONS}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"unknown filesystem spool option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    typed = dict(options)
    for key in _INT_OPTIONS:
        value = typed.get(key)
        if isinstance(value, str):
            try:
                typed[key] = int(value)
            except ValueError:
                raise ConfigError(
                    f"filesystem spool {key} must be an integer, got {value!r}"
                ) from None
    for key in _BOOL_OPTIONS:
        value = typed.get(key)
        if isinstance(value, str):
            word = value.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ConfigError(f"filesystem spool {key} must be true or false, got {value!r}")
            typed[key] = word in _TRUE
    if isinstance(typed.get("data_format"), str):
        typed["data_format"] = typed["data_format"].upper()
    return typed


def _refuse_query_on_a_path(address: str) -> None:
    """A plain path is taken as it is, so ``/spool?create=true`` would name a directory
    ``spool?create=true``; when no such directory exists, say that options need a URL."""
    path, mark, query = address.partition("?")
    if not mark or os.path.exists(address):
        return
    names = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    if names and names <= {"data_format", *_INT_OPTIONS, *_BOOL_OPTIONS}:
        url = "file://" + quote(os.path.abspath(path)) + "?" + query
        raise ConfigError(
            f"spool address {address!r} is a plain path, which takes no options after '?'; "
            f"use a file:// URL: {url}"
        )


def from_url(address: str, **options: Any) -> FilesystemSpool:
    """A directory path or ``file://`` URL (query options allowed) → :class:`FilesystemSpool`.

    ``file:///var/spool/mlops?data_format=BYTE_ARRAY&max_files=20&fsync=true``
    (``create=true`` makes a missing directory); explicit ``options`` win over the query.
    """
    if address.lower().startswith("file://"):
        parts = urlsplit(address)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(
                f"file URL {address!r} names host {parts.netloc!r}; only local "
                "directories are supported (file:///path)"
            )
        directory = unquote(parts.path)
        merged: dict[str, Any] = dict(parse_qsl(parts.query))
        merged.update(options)
    else:
        directory, merged = address, dict(options)
        _refuse_query_on_a_path(address)
    if not directory:
        raise ConfigError(f"filesystem spool address {address!r} names no directory")
    return FilesystemSpool(directory, **_coerce(merged))
