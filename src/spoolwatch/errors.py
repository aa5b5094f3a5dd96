"""Every exception spoolwatch raises, split by what the caller should do next.

::

    SpoolwatchError
    ├── ConfigError ............ fix the configuration or the call; nothing was changed
    ├── TransientError ......... retry later with back-off; the records stay in the spool
    │   ├── SpoolUnavailable ... the broker / queue / directory cannot be reached right now
    │   └── DestinationUnavailable  the monitoring service is down, 5xx, 429 or unreachable
    │                               (the agent stops on its 401/403: the token is wrong)
    ├── RecordError ............ this one record is bad: quarantine it, keep draining
    │   ├── DecodeError ........ bytes that are not a record (JSON, frame, CRC, version)
    │   │   └── RecordTooLarge . a line or frame above the spool's record size cap
    │   ├── InvalidRecord ...... a record whose payload breaks its schema
    │   └── RejectedRecord ..... the destination refused the record (4xx other than 429)
    └── MissingExtra ........... an optional dependency is not installed (says which extra)

Vendor exceptions (boto3, pika, httpx, SQLAlchemy) are translated into these in exactly one
place, the adapter module that imports the vendor SDK, with ``raise Ours(...) from exc``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "DestinationUnavailable",
    "InvalidRecord",
    "MissingExtra",
    "RecordError",
    "RecordTooLarge",
    "RejectedRecord",
    "SpoolUnavailable",
    "SpoolwatchError",
    "TransientError",
]


class SpoolwatchError(Exception):
    """Base class of every spoolwatch error."""


class ConfigError(SpoolwatchError):
    """A configuration value, CLI argument or API call is wrong; the message says where."""


class TransientError(SpoolwatchError):
    """Something outside is unavailable for now; retrying later may succeed."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SpoolUnavailable(TransientError):
    """The spool (broker, queue, directory) cannot be reached right now."""


class DestinationUnavailable(TransientError):
    """The destination is down or overloaded (connection error, 5xx, 429), or refused the
    credentials (401/403); ``status`` and ``body`` (its start) when it answered;
    ``request_id``, the ``X-Request-ID`` of the request that failed, when one was sent."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        body: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.body = body
        self.request_id = request_id


class RecordError(SpoolwatchError):
    """One record is bad. It goes to quarantine with this message as the reason."""

    def __init__(self, message: str, *, record_id: str | None = None) -> None:
        super().__init__(message)
        self.record_id = record_id


class DecodeError(RecordError):
    """Bytes that cannot be decoded into a record (bad JSON, frame, checksum or version)."""

    def __init__(
        self,
        message: str,
        *,
        record_id: str | None = None,
        source: str | None = None,
        offset: int | None = None,
        size: int | None = None,
    ) -> None:
        where = ""
        if source is not None:
            where = f" in {source}" + (f" at byte {offset}" if offset is not None else "")
        super().__init__(message + where, record_id=record_id)
        self.source = source
        self.offset = offset
        #: How many bytes the undecodable stretch covers, when the delivery keeps only its
        #: first bytes (``None``: the delivery holds all of them).
        self.size = size


class RecordTooLarge(DecodeError):
    """A line or frame longer than the spool's record size cap; only its first bytes are kept.

    ``size`` is the record's length in bytes (a JSON line without its newline, a binary
    record without its 20-byte frame header); ``limit`` is the cap it exceeds.
    """

    def __init__(
        self,
        message: str,
        *,
        size: int,
        limit: int,
        source: str | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message, source=source, offset=offset, size=size)
        self.limit = limit


class InvalidRecord(RecordError):
    """A decoded record whose payload breaks its schema; the message names the field."""

    def __init__(self, message: str, *, record_id: str | None = None, field: str | None = None):
        super().__init__(message, record_id=record_id)
        self.field = field


class RejectedRecord(RecordError):
    """The destination refused the record as invalid (a 4xx answer other than 429)."""

    def __init__(
        self,
        message: str,
        *,
        record_id: str | None = None,
        status: int | None = None,
        body: str = "",
    ) -> None:
        super().__init__(message, record_id=record_id)
        self.status = status
        self.body = body


class MissingExtra(SpoolwatchError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'spoolwatch[{extra}]'"
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str) -> object:
    """Import an optional dependency or raise :class:`MissingExtra` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(module.split(".")[0], extra) from exc
