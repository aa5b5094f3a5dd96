"""A modelled SQS standard queue that holds counts of records, not records.

Approximations (stated so the figures can be judged):

* Records live in **cohorts** ``[arrival, count, receives, sent]``: records that arrived in
  the same arrival step and share their delivery history. A receive splits a cohort when it
  takes part of it. Nothing is simulated per record, so a million records cost a few
  thousand cohorts.
* Order: best effort by send time, as SQS standard queues try. A record whose visibility
  timeout expires (or that is released) keeps its send time and so goes back to the head.
* ``receive`` takes up to ``max_records`` at once: the caller bills one request per 10
  (SQS returns at most 10 per call) and one request per 64 KB chunk.
* A cohort received ``max_receive_count`` times and then becoming visible again moves to the
  dead-letter queue on the next receive: those records are **lost** to the destination.
* **Duplicates**: records the destination accepted and then received again because they
  were not deleted in time (visibility expired after a successful send, or an agent crashed
  between send and delete). Counted once per extra send, the same way for every policy. A
  cohort remembers whether the destination accepted it (``SENT``): what spoolwatch's
  look-up of redelivered records learns (:meth:`SimQueue.split_known`).
* ``ApproximateNumberOfMessages`` / ``...NotVisible`` lag the truth by ``approx_lag``
  seconds (about a minute): :meth:`SimQueue.approx` returns the newest snapshot at least
  that old; snapshots are taken every ``sample_seconds`` of the scenario (5-60 s).
* The in-flight limit (120,000 for standard queues): receives beyond it return nothing.
* Long polling: agents waiting for messages park on :meth:`SimQueue.wait`; an arrival wakes
  one waiter per ``wake_per`` (10) records, as a long-poll receive returns as soon as
  some messages (up to 10) are there; the others wait on until their timeout.
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import simpy

__all__ = ["AgeHistogram", "InFlight", "SimQueue"]

# cohort fields
ARRIVAL, COUNT, RECEIVES, SENT = 0, 1, 2, 3


class AgeHistogram:
    """Weighted histogram of record ages (arrival → delete), log-spaced bins of 1 %."""

    _LOW = 0.001
    _RATIO = math.log(1.01)

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.total = 0

    def add(self, age: float, count: int) -> None:
        """Record ``count`` records of ``age`` seconds."""
        index = 0 if age <= self._LOW else int(math.log(age / self._LOW) / self._RATIO) + 1
        self.bins[index] = self.bins.get(index, 0) + count
        self.total += count

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0-100) of age in seconds; ``None`` when empty."""
        if not self.total:
            return None
        rank = q / 100.0 * self.total
        seen = 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                return self._LOW * math.exp(self._RATIO * index) if index else self._LOW
        return None


@dataclass(eq=False)
class InFlight:
    """Records received together: invisible until ``deadline`` unless deleted or released."""

    cohorts: list[list[Any]]
    count: int
    deadline: float
    done: bool = False
    sent: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def receives(self) -> int:
        """The highest receive count of its records (SQS's ApproximateReceiveCount)."""
        return int(max(cohort[RECEIVES] for cohort in self.cohorts))


class SimQueue:
    """One SQS standard queue of the simulation. Time is ``env.now``."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        max_receive_count: int = 5,
        in_flight_limit: int = 120_000,
        approx_lag: float = 60.0,
        wake_per: int = 10,
    ) -> None:
        self.env = env
        self.max_receive_count = max_receive_count
        self.in_flight_limit = in_flight_limit
        self.approx_lag = approx_lag
        self.wake_per = wake_per
        self.visible: deque[list[Any]] = deque()
        self.visible_count = 0
        self.in_flight_count = 0
        self._deadlines: list[tuple[float, int, InFlight]] = []
        self._seq = 0
        self._snapshots: deque[tuple[float, int, int]] = deque([(0.0, 0, 0)])
        self._waiters: deque[simpy.Event] = deque()
        self.ages = AgeHistogram()
        self.arrived = 0
        self.acked = 0
        self.lost = 0
        self.duplicates = 0
        self.deliveries = 0

    # --- producers and counts -------------------------------------------------------------

    def add(self, count: int) -> None:
        """``count`` records arrive now."""
        if count <= 0:
            return
        self.visible.append([self.env.now, count, 0, False])
        self.visible_count += count
        self.arrived += count
        wake = min(len(self._waiters), max(1, math.ceil(count / self.wake_per)))
        for _ in range(wake):
            waiter = self._waiters.popleft()
            if not waiter.triggered:
                waiter.succeed()

    def wait(self) -> simpy.Event:
        """An event that fires when records arrive (the caller adds its own timeout)."""
        event = self.env.event()
        self._waiters.append(event)
        return event

    def stop_waiting(self, event: simpy.Event) -> None:
        """Forget a waiter whose timeout fired first."""
        with contextlib.suppress(ValueError):
            self._waiters.remove(event)

    def backlog(self) -> int:
        """True visible + in-flight count (what no API returns exactly)."""
        self.expire()
        return self.visible_count + self.in_flight_count

    def snapshot(self) -> None:
        """Remember the counts now; :meth:`approx` returns them ``approx_lag`` later."""
        self.expire()
        self._snapshots.append((self.env.now, self.visible_count, self.in_flight_count))

    def approx(self) -> tuple[int, int]:
        """``(ApproximateNumberOfMessages, ...NotVisible)`` as SQS would report them now."""
        cutoff = self.env.now - self.approx_lag
        while len(self._snapshots) > 1 and self._snapshots[1][0] <= cutoff:
            self._snapshots.popleft()
        _, visible, in_flight = self._snapshots[0]
        return visible, in_flight

    # --- consumers ------------------------------------------------------------------------

    def receive(
        self, max_records: int, visibility: float, *, check_limit: bool = True
    ) -> InFlight | None:
        """Take up to ``max_records`` visible records; ``None`` when there are none.

        ``check_limit=False`` is for fluid callers that receive a whole tick's records at
        once while far fewer are in flight at any instant.
        """
        self.expire()
        room = self.in_flight_limit - self.in_flight_count if check_limit else max_records
        want = min(max_records, room)
        taken: list[list[Any]] = []
        got = 0
        while want > got and self.visible:
            head = self.visible[0]
            if head[RECEIVES] >= self.max_receive_count:
                self.visible.popleft()
                self.visible_count -= head[COUNT]
                self.lost += head[COUNT]
                continue
            take = min(head[COUNT], want - got)
            if take == head[COUNT]:
                self.visible.popleft()
                part = head
            else:
                head[COUNT] -= take
                part = [head[ARRIVAL], take, head[RECEIVES], head[SENT]]
            part[RECEIVES] += 1
            taken.append(part)
            got += take
        if not got:
            return None
        self.visible_count -= got
        self.in_flight_count += got
        self.deliveries += got
        batch = InFlight(taken, got, self.env.now + visibility)
        self._seq += 1
        heapq.heappush(self._deadlines, (batch.deadline, self._seq, batch))
        return batch

    def mark_sent(self, batch: InFlight) -> None:
        """The destination accepted ``batch``: count records it had already accepted."""
        for cohort in batch.cohorts:
            if cohort[SENT]:
                self.duplicates += cohort[COUNT]
            cohort[SENT] = True
        batch.sent = True

    def split_known(self, batch: InFlight) -> InFlight | None:
        """The records of ``batch`` the destination already accepted, taken out of it into
        a batch of their own (same visibility deadline): ``batch`` itself when all of them
        were, ``None`` when none was."""
        if batch.done:
            return None
        known = [cohort for cohort in batch.cohorts if cohort[SENT]]
        if not known:
            return None
        if len(known) == len(batch.cohorts):
            return batch
        count = sum(cohort[COUNT] for cohort in known)
        batch.cohorts = [cohort for cohort in batch.cohorts if not cohort[SENT]]
        batch.count -= count
        part = InFlight(known, count, batch.deadline)
        self._seq += 1
        heapq.heappush(self._deadlines, (part.deadline, self._seq, part))
        return part

    def delete(self, batch: InFlight) -> bool:
        """Delete ``batch`` (ack); ``False`` when its visibility had already expired."""
        self.expire()
        if batch.done:
            return False
        batch.done = True
        self.in_flight_count -= batch.count
        self.acked += batch.count
        now = self.env.now
        for cohort in batch.cohorts:
            self.ages.add(now - cohort[ARRIVAL], cohort[COUNT])
        return True

    def extend(self, batch: InFlight, visibility: float) -> None:
        """ChangeMessageVisibility: keep ``batch`` invisible ``visibility`` more seconds."""
        if batch.done:
            return
        batch.deadline = self.env.now + visibility
        self._seq += 1
        heapq.heappush(self._deadlines, (batch.deadline, self._seq, batch))

    def release(self, batch: InFlight) -> None:
        """Make ``batch`` visible again now (visibility 0)."""
        if not batch.done:
            self._return(batch)

    def expire(self) -> None:
        """Return batches whose visibility timeout passed."""
        now = self.env.now
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, _, batch = heapq.heappop(self._deadlines)
            if not batch.done and batch.deadline == deadline:
                self._return(batch)

    def _return(self, batch: InFlight) -> None:
        batch.done = True
        self.in_flight_count -= batch.count
        self.visible_count += batch.count
        for cohort in reversed(batch.cohorts):
            self.visible.appendleft(cohort)
