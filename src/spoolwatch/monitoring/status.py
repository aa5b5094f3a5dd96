"""Traffic-light statuses shared by drift and the dashboard."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["DriftStatus", "worst_status"]


class DriftStatus(StrEnum):
    """Green (no drift), yellow (warning), red (drift) or unknown (not enough data)."""

    UNKNOWN = "unknown"
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def severity(self) -> int:
        """Order used by :func:`worst_status`: unknown < green < yellow < red."""
        return _SEVERITY[self]


_SEVERITY = {
    DriftStatus.UNKNOWN: 0,
    DriftStatus.GREEN: 1,
    DriftStatus.YELLOW: 2,
    DriftStatus.RED: 3,
}


def worst_status(statuses: Iterable[DriftStatus]) -> DriftStatus:
    """The most severe status; ``UNKNOWN`` only when there is nothing better to say."""
    worst = DriftStatus.UNKNOWN
    for status in statuses:
        if status.severity > worst.severity:
            worst = status
    return worst
