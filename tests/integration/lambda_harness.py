"""A stand-in for the Lambda service, for end-to-end tests of the serverless agents.

It polls the agent queue like Lambda's SQS trigger (batch size 1, at most
``max_concurrency`` invocations at once, the message deleted unless the handler reports it
in ``batchItemFailures``), invokes the real handler in threads with a context whose deadline
is scaled down to seconds, and ticks the schedule when asked. Given a wake trigger
(:class:`WakeTrigger`), it also polls the data queue while the switch has the mapping
enabled: batches of 10, at most 2 invocations at once, as the template's wake mapping.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def monotonic_deadline(seconds: float) -> Callable[[], int]:
    """A ``get_remaining_time_in_millis`` for ``seconds`` from now."""
    end = time.monotonic() + seconds
    return lambda: max(0, int((end - time.monotonic()) * 1000))


@dataclass
class FakeContext:
    """Lambda's context: a request id and the time left."""

    aws_request_id: str
    get_remaining_time_in_millis: Callable[[], int]


@dataclass
class WakeTrigger:
    """The data queue's wake mapping: the queue, its ARN and the switch that enables it."""

    queue_url: str
    queue_arn: str
    switch: Any  # MemoryWakeSwitch: polls while ``switch.enabled``
    batch_size: int = 10
    max_concurrency: int = 2
    running: int = 0


@dataclass
class Invocation:
    """One invocation the harness made."""

    trigger: str
    body: str
    started: float
    ended: float = 0.0
    response: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


class FakeLambda:
    """Plays Lambda's SQS trigger and schedule for ``handler``."""

    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], dict[str, Any]],
        sqs: Any,
        agent_queue_url: str,
        *,
        max_concurrency: int,
        deadline_seconds: float,
        wake: WakeTrigger | None = None,
    ) -> None:
        self.handler = handler
        self.sqs = sqs
        self.agent_queue_url = agent_queue_url
        self.max_concurrency = max_concurrency
        self.deadline_seconds = deadline_seconds
        self.wake = wake
        self.invocations: list[Invocation] = []
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _context(self) -> FakeContext:
        return FakeContext(str(uuid.uuid4()), monotonic_deadline(self.deadline_seconds))

    def tick_schedule(self) -> dict[str, Any]:
        """One scheduled invocation (EventBridge), run synchronously."""
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        invocation = Invocation("schedule", "", time.monotonic())
        invocation.response = self.handler(event, self._context())
        invocation.ended = time.monotonic()
        with self._lock:
            self.invocations.append(invocation)
        return invocation.response

    def _invoke(self, message: dict[str, Any]) -> None:
        invocation = Invocation("sqs", message["Body"], time.monotonic())
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "eventSource": "aws:sqs",
                }
            ]
        }
        try:
            invocation.response = self.handler(event, self._context())
            failed = {f["itemIdentifier"] for f in invocation.response["batchItemFailures"]}
            if message["MessageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.agent_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        except BaseException as exc:  # recorded for the test to assert on
            invocation.error = exc
        finally:
            invocation.ended = time.monotonic()
            with self._lock:
                self.invocations.append(invocation)
                self.running -= 1

    def _invoke_wake(self, wake: WakeTrigger, messages: list[dict[str, Any]]) -> None:
        invocation = Invocation("wake", "", time.monotonic())
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": wake.queue_arn,
                }
                for m in messages
            ]
        }
        try:
            invocation.response = self.handler(event, self._context())
            failed = {f["itemIdentifier"] for f in invocation.response["batchItemFailures"]}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:  # Lambda deletes the batch's successes (the handler may have already)
                self.sqs.delete_message_batch(
                    QueueUrl=wake.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done)
                    ],
                )
        except BaseException as exc:  # recorded for the test to assert on
            invocation.error = exc
        finally:
            invocation.ended = time.monotonic()
            with self._lock:
                self.invocations.append(invocation)
                wake.running -= 1
                self.running -= 1

    def poll_wake(self) -> int:
        """Start wake invocations for visible data-queue messages while the mapping is on."""
        wake = self.wake
        if wake is None or not wake.switch.enabled:
            return 0
        with self._lock:
            free = wake.max_concurrency - wake.running
        started = 0
        for _ in range(max(0, free)):
            messages = self.sqs.receive_message(
                QueueUrl=wake.queue_url,
                MaxNumberOfMessages=wake.batch_size,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            with self._lock:
                wake.running += 1
                self.running += 1
            thread = threading.Thread(target=self._invoke_wake, args=(wake, messages), daemon=True)
            self._threads.append(thread)
            thread.start()
            started += 1
        return started

    def poll(self) -> int:
        """Start invocations for waiting agent-queue messages, up to the concurrency cap."""
        self.poll_wake()
        with self._lock:
            wakes = self.wake.running if self.wake is not None else 0
            free = self.max_concurrency - (self.running - wakes)
        if free <= 0:
            return 0
        messages = self.sqs.receive_message(
            QueueUrl=self.agent_queue_url,
            MaxNumberOfMessages=min(10, free),
            VisibilityTimeout=120,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        for message in messages:
            with self._lock:
                self.running += 1
                wakes = self.wake.running if self.wake is not None else 0
                self.peak = max(self.peak, self.running - wakes)
            thread = threading.Thread(target=self._invoke, args=(message,), daemon=True)
            self._threads.append(thread)
            thread.start()
        return len(messages)

    def run_until(
        self, done: Callable[[], bool], *, timeout: float, schedule_every: float | None = None
    ) -> bool:
        """Poll until ``done()`` with nothing running, ticking the schedule now and then."""
        end = time.monotonic() + timeout
        next_tick = time.monotonic() + (schedule_every or timeout * 2)
        while time.monotonic() < end:
            self.poll()
            if schedule_every is not None and time.monotonic() >= next_tick:
                self.tick_schedule()
                next_tick = time.monotonic() + schedule_every
            with self._lock:
                idle = self.running == 0
            if idle and done():
                return True
            time.sleep(0.1)
        return False

    def join(self) -> None:
        """Wait for every invocation thread."""
        for thread in self._threads:
            thread.join(timeout=60)

    def errors(self) -> list[BaseException]:
        """Exceptions that escaped the handler."""
        return [i.error for i in self.invocations if i.error is not None]

    def bodies(self) -> list[str]:
        """Bodies of the agent-queue messages that started invocations."""
        return [i.body for i in self.invocations if i.trigger == "sqs"]

    def count(self, trigger: str) -> int:
        """How many invocations ``trigger`` (``sqs``, ``wake``, ``schedule``) started."""
        return sum(1 for i in self.invocations if i.trigger == trigger)
