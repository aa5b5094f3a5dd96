"""The timestamp formats found in DataRobot records (spec §2.5)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = [
    "dr_timestamp",
    "event_timestamp",
    "now_local",
    "parse_timestamp",
    "time_series_timestamp",
]


def now_local() -> datetime:
    """The current time in the local time zone, with its offset."""
    return datetime.now().astimezone()


def dr_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS.mmm±HHMM``; a naive datetime gets no offset, as DataRobot writes."""
    if moment.year < 1000:  # strftime's %Y does not pad years below 1000; keep its text
        text = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        return text + moment.strftime("%z") if moment.tzinfo is not None else text
    # Formatted by hand: two strftime calls cost more than the rest of a deployment-stats
    # report; the offset text is the same for every moment of one zone and is cached.
    text = (
        f"{moment.year}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}"
    )
    if moment.tzinfo is None:
        return text
    return text + _offset_text(moment.utcoffset())


@functools.lru_cache(maxsize=64)
def _offset_text(offset: timedelta | None) -> str:
    """What ``strftime("%z")`` writes for a moment with this UTC offset."""
    if offset is None:
        return ""
    return datetime(2000, 1, 1, tzinfo=timezone(offset)).strftime("%z")


def event_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` in local time with no offset (event records)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def time_series_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: a literal Z whatever the zone (time-series fields)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(text: str, *, naive_as: datetime | None = None) -> datetime:
    """Parse any timestamp DataRobot records carry into an aware datetime.

    Timestamps without an offset are in an unknown zone; they are read as UTC unless
    ``naive_as`` supplies a zone (its ``tzinfo`` is used). Raises ``ValueError`` when the
    text is not a timestamp.
    """
    if naive_as is None:
        # One request's items share few timestamps, each read by validation and folding.
        return _parse_utc(text)
    return _parse(text, naive_as)


@functools.lru_cache(maxsize=4096)
def _parse_utc(text: str) -> datetime:
    return _parse(text, None)


def _parse(text: str, naive_as: datetime | None) -> datetime:
    match = _TS.match(text.strip())
    if match is None:
        raise ValueError(f"not a timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    tz = (naive_as.tzinfo if naive_as is not None else None) or UTC
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=tz
    )
    if zone and zone != "Z":
        digits = zone.replace(":", "")
        moment = datetime.fromisoformat(
            moment.replace(tzinfo=None).isoformat() + f"{digits[:3]}:{digits[3:]}"
        )
    return moment
