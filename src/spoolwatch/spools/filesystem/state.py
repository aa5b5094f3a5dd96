"""What a filesystem spool consumer keeps beside the spool files.

* ``.spoolwatch-progress.json``: the committed position (file name, byte offset) plus the
  file's identity (device, inode, fingerprint of its first bytes), rewritten atomically.
* ``.spoolwatch-consumer.lock``: an exclusive ``flock`` held by the one consumer; it holds
  the consumer's pid so a second consumer can say who is in the way.
* ``quarantine/quarantine.jsonl``: records parked with their reason, one JSON object a line.
  A record above the spool's size cap (or a long stretch of skipped bytes) keeps only its
  first bytes in ``raw``; ``size`` then says how long it was and ``truncated`` is true.

None of these names match ``fs_spool.*``, so DataRobot's writer ignores them.
"""

from __future__ import annotations

import base64
import fcntl
import glob
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson

from spoolwatch.errors import ConfigError, SpoolUnavailable
from spoolwatch.spools.base import Delivery, QuarantinedItem

__all__ = [
    "LOCK_NAME",
    "PROGRESS_NAME",
    "QUARANTINE_DIR",
    "ConsumerLock",
    "Progress",
    "QuarantineLog",
    "load_progress",
    "save_progress",
]

logger = logging.getLogger(__name__)

PROGRESS_NAME = ".spoolwatch-progress.json"
LOCK_NAME = ".spoolwatch-consumer.lock"
QUARANTINE_DIR = "quarantine"
QUARANTINE_FILE = "quarantine.jsonl"


@dataclass(frozen=True, slots=True)
class Progress:
    """The committed prefix: everything before ``offset`` in ``file`` (and older files)."""

    file: str
    offset: int
    device: int
    inode: int
    fingerprint: str
    fingerprint_len: int


def load_progress(directory: str) -> Progress | None:
    """The saved progress, ``None`` when there is none; :class:`ConfigError` if unreadable."""
    path = os.path.join(directory, PROGRESS_NAME)
    try:
        with open(path, "rb") as handle:
            doc = orjson.loads(handle.read())
        return Progress(
            file=str(doc["file"]),
            offset=int(doc["offset"]),
            device=int(doc["device"]),
            inode=int(doc["inode"]),
            fingerprint=str(doc["fingerprint"]),
            fingerprint_len=int(doc["fingerprint_len"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the spool progress file {path}: {exc}; fix or remove it "
            "(removing it makes the consumer start again at the oldest spool file)"
        ) from exc


def save_progress(directory: str, progress: Progress) -> None:
    """Replace the progress file atomically (temporary file, then ``os.replace``)."""
    path = os.path.join(directory, PROGRESS_NAME)
    temporary = f"{path}.{os.getpid()}.tmp"
    doc = asdict(progress)
    doc["updated_at"] = datetime.now(UTC).isoformat()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, orjson.dumps(doc))
    finally:
        os.close(fd)
    os.replace(temporary, path)


class ConsumerLock:
    """The exclusive right to consume one spool directory (``flock`` on a lock file)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, LOCK_NAME)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`SpoolUnavailable` naming the holder's pid."""
        if self._fd is not None:
            return
        _refuse_if_datarobot_consumer(self.directory)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise SpoolUnavailable(
                f"filesystem spool {self.directory} is already being consumed by process "
                f"{holder} (lock {self.path}); only one consumer may read a spool directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (the lock file stays; removing it would race a new holder)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


def _refuse_if_datarobot_consumer(directory: str) -> None:
    """DataRobot's dequeuer marks its ownership with ``agent_<pid>.lock``; respect a live one."""
    for path in glob.glob(os.path.join(glob.escape(directory), "agent_*.lock")):
        pid_text = os.path.basename(path)[len("agent_") : -len(".lock")]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue  # our own pid: a stale lock from an earlier container with reused pids
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            continue  # stale lock of a dead process
        except PermissionError:
            pass  # alive, owned by someone else
        raise SpoolUnavailable(
            f"filesystem spool {directory} is being consumed by DataRobot's agent "
            f"(process {pid_text}, lock {path}); stop it before starting spoolwatch's agent"
        )


def _entry(delivery: Delivery, reason: str, stamp: str) -> dict[str, object]:
    entry: dict[str, object] = {
        "reason": reason,
        "position": delivery.position,
        "record_id": delivery.record_id,
        "error": str(delivery.error) if delivery.error is not None else None,
        "quarantined_at": stamp,
        "raw": base64.b64encode(delivery.raw).decode("ascii"),
    }
    size = getattr(delivery.error, "size", None)
    if size is not None:
        entry["size"] = size
        entry["truncated"] = True
        entry["offset"] = getattr(delivery.error, "offset", None)
        limit = getattr(delivery.error, "limit", None)
        if limit is not None:
            entry["limit"] = limit
    return entry


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _item(doc: dict[str, object]) -> QuarantinedItem:
    """A quarantine line as an item; ``KeyError``/``TypeError``/``ValueError`` if malformed."""
    position = str(doc["position"])
    size = _optional_int(doc.get("size"))
    offset = _optional_int(doc.get("offset"))
    if size is not None and offset is None:  # written before offsets were kept: name@offset
        _, _, at = position.rpartition("@")
        offset = int(at) if at.isdigit() else None
    return QuarantinedItem(
        reason=str(doc["reason"]),
        position=position,
        raw=base64.b64decode(str(doc["raw"])),
        quarantined_at=str(doc["quarantined_at"]),
        size=size,
        offset=offset,
        limit=_optional_int(doc.get("limit")),
    )


class QuarantineLog:
    """``quarantine/quarantine.jsonl`` inside the spool directory."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, QUARANTINE_DIR, QUARANTINE_FILE)

    def append(self, deliveries: Sequence[Delivery], reason: str) -> None:
        """Park the deliveries' raw bytes with ``reason``; durable before it returns."""
        stamp = datetime.now(UTC).isoformat()
        lines = b"".join(orjson.dumps(_entry(d, reason, stamp)) + b"\n" for d in deliveries)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(lines)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def items(self, limit: int | None = None) -> Iterator[QuarantinedItem]:
        """Parked records, oldest first."""
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed in finally of a generator
        except FileNotFoundError:
            return
        with handle:
            count = 0
            for number, line in enumerate(handle, start=1):
                if limit is not None and count >= limit:
                    return
                if not line.strip():
                    continue
                try:
                    item = _item(orjson.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    logger.warning("skipping unreadable line %d of %s: %s", number, self.path, exc)
                    continue
                count += 1
                yield item
