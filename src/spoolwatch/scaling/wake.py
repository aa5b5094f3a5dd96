"""The wake switch: whether the data queue's own trigger may start agents on arrival.

The schedule looks at the backlog every few minutes; records arriving while no agent runs
would wait for it. So the template also puts a small *wake* function on the data queue
(Lambda's SQS trigger, batch 10, ``MaximumConcurrency`` 2): it delivers the batch it was
given and recruits agents at once. That trigger is **armed** only while the fleet is idle
and the circuit breaker is not open:

* an agent that took a lease slot **disarms** it (the agents watch the queue now; a trigger
  left on would take the traffic in batches of ten, one invocation each);
* an agent recording a failure that opened the breaker disarms it (records taken by the
  trigger while the destination is down would only count towards the redrive limit);
* the last agent to stop on an empty queue, with the breaker closed and nobody waiting in
  the agent queue, **arms** it again; so does the schedule when it finds nothing to do;
* the schedule **reconciles**: a mapping left in the other state (a call that failed) is
  put right within one period, and so is the flag after an agent arming and another
  disarming crossed (the schedule disarms while agents run).

The moves are the rules of :mod:`spoolwatch.scaling.session` (``schedule_wake``,
``wake_after_run``, ``wake_after_failure``, ``DISARM_RUNNING``), applied to a
:class:`WakeSwitch`: :class:`MemoryWakeSwitch` holds it in memory (tests, the simulator).
The wanted state is one flag, changed by conditional writes so that of many agents only the
one that flipped it calls Lambda's ``UpdateEventSourceMapping``
(:class:`~spoolwatch.serverless.wake.dynamodb.DynamoWakeSwitch`).
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
