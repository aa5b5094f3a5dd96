"""Query periods and buckets: aligned to whole hours, as the aggregates are stored."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import HTTPException

__all__ = ["HOUR", "QueryPeriod", "resolve_period"]

HOUR = 3600
DAY = 24 * HOUR
_BUCKETS = {"PT1H": HOUR, "P1D": DAY, "P7D": 7 * DAY}
DEFAULT_SPAN = 7 * DAY
_EARLIEST = datetime(2, 1, 1, tzinfo=UTC).timestamp()
_LATEST = datetime(9999, 12, 30, tzinfo=UTC).timestamp()


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def to_datetime(seconds: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True, slots=True)
class QueryPeriod:
    """[start, end) in Unix seconds, whole hours, and the bucket width."""

    start: int
    end: int
    bucket: int

    def period(self, start: int | None = None, end: int | None = None) -> dict[str, datetime]:
        """``{"start", "end"}`` as datetimes (the whole period by default)."""
        return {
            "start": to_datetime(self.start if start is None else start),
            "end": to_datetime(self.end if end is None else end),
        }

    def bucket_of(self, hour: int) -> int:
        """The start of the bucket that holds ``hour``."""
        return self.start + (hour - self.start) // self.bucket * self.bucket

    def buckets(self) -> Iterable[int]:
        """Starts of every bucket in the period."""
        return range(self.start, self.end, self.bucket)

    def bucket_period(self, start: int) -> dict[str, datetime]:
        """The period of the bucket starting at ``start`` (clipped to the end)."""
        return self.period(start, min(start + self.bucket, self.end))


def resolve_period(
    start: datetime | None,
    end: datetime | None,
    bucket_size: str | None = None,
    *,
    default_span: int = DEFAULT_SPAN,
    now: float | None = None,
) -> QueryPeriod:
    """The hour-aligned period for ``start``/``end`` (default: the last 7 days up to the end
    of the current hour); 422 when ``start`` is not before ``end`` or the bucket is unknown."""
    now = time.time() if now is None else now
    for name, moment in (("start", start), ("end", end)):
        # Hours are rounded outwards and must stay within what a datetime can show.
        if moment is not None and not _EARLIEST <= _seconds(moment) <= _LATEST:
            raise HTTPException(
                status_code=422,
                detail=[
                    {
                        "loc": ["query", name],
                        "msg": "must be between 0002-01-01 and 9999-12-30",
                        "type": "value_error",
                    }
                ],
            )
    end_s = _seconds(end) if end is not None else now
    end_h = -(-int(end_s) // HOUR) * HOUR
    start_h = int(_seconds(start)) // HOUR * HOUR if start is not None else end_h - default_span
    if start_h >= end_h:
        raise HTTPException(status_code=422, detail="start must be before end")
    if bucket_size is None:
        bucket = HOUR if end_h - start_h <= 2 * DAY else DAY
    elif bucket_size in _BUCKETS:
        bucket = _BUCKETS[bucket_size]
    else:
        raise HTTPException(
            status_code=422, detail=f"bucketSize must be one of {', '.join(_BUCKETS)}"
        )
    if (end_h - start_h) // bucket > 10_000:
        raise HTTPException(status_code=422, detail="too many buckets; use a larger bucketSize")
    return QueryPeriod(start_h, end_h, bucket)
