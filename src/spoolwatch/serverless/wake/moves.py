"""Applying a session rule's :class:`~spoolwatch.scaling.session.WakeMove` to the switch.

A failure to arm or disarm is logged, never raised: the schedule reconciles the trigger's
mapping with the switch's flag within one period.
"""

from __future__ import annotations

import logging

from spoolwatch.scaling.session import WakeMove
from spoolwatch.scaling.wake import WakeSwitch
from spoolwatch.serverless.decision_log import log_decision

__all__ = ["switch_wake"]

log = logging.getLogger("spoolwatch.serverless.worker")


def switch_wake(wake: WakeSwitch, move: WakeMove | None) -> None:
    """Arm or disarm the wake trigger; a failure is logged (the schedule reconciles)."""
    if move is None:
        return
    try:
        changed = wake.arm(move.why) if move.armed else wake.disarm(move.why)
    except Exception:
        action = "arm" if move.armed else "disarm"
        log.warning("could not %s the wake trigger", action, exc_info=True)
        return
    if changed:
        log_decision("wake_armed" if move.armed else "wake_disarmed", why=move.why)
