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
``wake_after_run``, ``wake_after_failure``, ``DISARM_RUNNING``); the switch itself is in
:mod:`spoolwatch.scaling.wake`. The wanted state is one flag, changed by conditional
writes so that of many agents only the one that flipped it calls Lambda's
``UpdateEventSourceMapping``
(:class:`~spoolwatch.serverless.wake_dynamodb.DynamoWakeSwitch`).
"""

from __future__ import annotations

from spoolwatch.scaling.session import WAKE_BATCH_SIZE
from spoolwatch.scaling.wake import MemoryWakeSwitch, NoWakeSwitch, WakeSwitch

__all__ = ["WAKE_BATCH_SIZE", "MemoryWakeSwitch", "NoWakeSwitch", "WakeSwitch"]
