"""The timestamp formats found in DataRobot records (spec §2.5)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

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
    text = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    if moment.tzinfo is not None:
        text += moment.strftime("%z")
    return text


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
