"""How long before Lambda's deadline an agent stops reading, as a pure rule.

An agent stops reading ``margin`` seconds before its invocation's deadline and gives up the
batch in hand at ``margin / 3`` (:class:`~spoolwatch.agent.control.StopControl`). A margin
meant for the 900 s limit (60 s by default) would leave a function with a shorter timeout
nothing to read in — a 30 s function would start, stop at once and say nothing, every
time. So the margin of a run is the configured one, capped at :data:`MARGIN_SHARE` of the
time the invocation has left when the agent starts: a short function still reads for at
least half its time, while the template's functions (900 s with 60 s, the 30 s wake
function with 10 s) keep their margin as configured. The handler and the simulator both
call :func:`run_margin`.
"""

from __future__ import annotations

__all__ = ["run_margin"]

#: The most of the time left at the start of a run that the deadline margin may take.
MARGIN_SHARE = 0.5


def run_margin(configured: float, remaining: float) -> float:
    """The deadline margin of a run that starts with ``remaining`` seconds left; pure."""
    return max(0.0, min(configured, remaining * MARGIN_SHARE))
