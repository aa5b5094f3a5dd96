"""The wake switch's state: whether the data queue's own trigger may start agents.

:class:`WakeSwitch` is what :mod:`spoolwatch.scaling.session`'s moves are applied to;
:class:`MemoryWakeSwitch` holds it in memory (tests, the simulator), and
:class:`~spoolwatch.serverless.wake_dynamodb.DynamoWakeSwitch` in DynamoDB. When it is
armed and disarmed: :mod:`spoolwatch.serverless.wake`.
"""

from __future__ import annotations

import threading
from typing import Protocol

__all__ = ["MemoryWakeSwitch", "NoWakeSwitch", "WakeSwitch"]


class WakeSwitch(Protocol):
    """Arms and disarms the data queue's wake trigger (see the module docstring)."""

    def arm(self, why: str) -> bool:
        """Want the trigger on; True when this call changed the wanted state."""
        ...

    def disarm(self, why: str) -> bool:
        """Want the trigger off; True when this call changed the wanted state."""
        ...

    def reconcile(self) -> str | None:
        """Make the mapping match the wanted state; what was done, or None."""
        ...


class NoWakeSwitch:
    """No wake trigger is deployed (``SPOOLWATCH_WAKE_MAPPING`` unset): nothing to switch."""

    def arm(self, why: str) -> bool:
        return False

    def disarm(self, why: str) -> bool:
        return False

    def reconcile(self) -> str | None:
        return None


class MemoryWakeSwitch:
    """The wanted state in memory, and the mapping's ``Enabled`` it would set (tests, the
    simulator). Starts armed, as the template deploys the trigger enabled."""

    def __init__(self, armed: bool = True) -> None:
        self.armed = armed
        self.enabled = armed
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def _set(self, armed: bool, why: str) -> bool:
        with self._lock:
            if self.armed == armed:
                return False
            self.armed = self.enabled = armed
            self.calls.append(("arm" if armed else "disarm", why))
            return True

    def arm(self, why: str) -> bool:
        return self._set(True, why)

    def disarm(self, why: str) -> bool:
        return self._set(False, why)

    def reconcile(self) -> str | None:
        with self._lock:
            if self.enabled == self.armed:
                return None
            self.enabled = self.armed
            return "enabled" if self.armed else "disabled"
