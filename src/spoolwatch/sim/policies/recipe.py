"""``recipe``: DataRobot's published serverless agent design, exactly as written.

* An EventBridge schedule every 15 minutes posts a message to an "agent" SQS queue whose
  Lambda trigger starts the function (one invocation per message).
* The function reads ApproximateNumberOfMessages of the data queue (lagging) and exits when
  it is zero; counts running agents by **scanning** a DynamoDB table (rows younger than
  15 minutes: a crashed function's row counts until then); exits if any error was recorded
  in the last hour; otherwise puts its own row and recruits
  ``ceil(backlog / 500) - 1 - running`` more agents (capped so the total stays within the
  target concurrency) by posting messages to the agent queue.
* It runs the agent until the queue is empty or 14 minutes passed, records an error when
  the destination fails, deletes its row, and posts a replacement message if work remains.
* Its recruit and replacement messages go SQS → Lambda → the same queue: Lambda's recursive
  loop detection stops such a chain after 16 hops (the recipe's template does not opt
  out), dropping the message; the 15-minute schedule starts a new chain.

The scan and the put are separate requests (``scan_seconds`` apart), so invocations that
start together all see the same count and over-recruit: that race is not coded in, it
happens when invocations overlap.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from spoolwatch.sim.lambda_ import AgentMessage, AgentQueueTrigger, LambdaFunction
from spoolwatch.sim.model import drain
from spoolwatch.sim.policies.base import Policy
from spoolwatch.sim.world import AgentRun

__all__ = ["RecipePolicy"]


class RecipePolicy(Policy):
    """DataRobot's recipe: schedule, agent queue, scan-based count, one-hour stop."""

    name = "recipe"
    summary = "DataRobot's recipe (15-min schedule, 500/agent, scan count, 1-h stop)"

    schedule_seconds = 900.0
    records_per_agent = 500
    run_seconds = 14 * 60.0
    row_seconds = 15 * 60.0
    error_stop_seconds = 3600.0
    scan_seconds = 0.03

    def start(self) -> None:
        """Start the schedule and the agent queue's trigger."""
        world = self.world
        self.rows: dict[str, float] = {}
        self.errors: list[float] = []
        self.function = LambdaFunction(world)
        self.trigger = AgentQueueTrigger(
            world,
            self.function,
            self._handler,
            max_concurrency=world.params.concurrency,
            loop_detection=True,
        )
        self.first_agent_at: float | None = None
        self.error_stops = 0
        world.env.process(self._schedule())

    def figures(self) -> dict[str, float | int | str | None]:
        """Loop stops, invocations stopped by the error rule, when the first agent ran."""
        return {
            "loop_stops": self.trigger.loop_stops,
            "error_stops": self.error_stops,
            "first_agent_at": self.first_agent_at,
            "cold_starts": self.function.cold_starts,
        }

    def _schedule(self) -> Generator[simpy.Event, Any, None]:
        env = self.world.env
        yield env.timeout(self.first_tick(self.schedule_seconds))
        while True:
            self.trigger.post(1, 0)
            yield env.timeout(self.schedule_seconds)

    def _handler(self, message: AgentMessage) -> Any:
        def body(deadline: float) -> Generator[simpy.Event, Any, None]:
            yield from self._invocation(message.hops)

        return body

    def _scan(self, now: float) -> int:
        """Running agents: rows younger than 15 minutes (a scan reads the whole table)."""
        self.world.ledger.dynamodb_read_units += max(1, math.ceil(len(self.rows) / 40))
        return sum(1 for started in self.rows.values() if now - started < self.row_seconds)

    def _invocation(self, hops: int) -> Generator[simpy.Event, Any, None]:
        world = self.world
        env, ledger = world.env, world.ledger
        visible, _ = world.queue.approx()
        ledger.sqs_call()
        if visible == 0:
            world.over_recruited += hops > 0
            return
        running = self._scan(env.now)
        if any(env.now - at < self.error_stop_seconds for at in self.errors):
            self.error_stops += 1
            return
        yield env.timeout(self.scan_seconds)
        name = world.new_name("recipe")
        self.rows[name] = env.now
        ledger.dynamodb_write_units += 1
        target = world.params.concurrency
        recruits = math.ceil(visible / self.records_per_agent) - 1 - running
        recruits = max(0, min(recruits, target - 1 - running))
        self.trigger.post(recruits, hops + 1)
        if self.first_agent_at is None:
            self.first_agent_at = env.now
        agent = AgentRun(name)
        outcome = yield from drain(
            world, agent, deadline=env.now + self.run_seconds, until_empty=True
        )
        if agent.processed == 0:
            world.over_recruited += hops > 0
        if outcome == "crashed":
            return  # the row stays until it ages out of the count
        if outcome == "failed":
            self.errors.append(env.now)
            ledger.dynamodb_write_units += 1
        del self.rows[name]
        ledger.dynamodb_write_units += 1
        visible, _ = world.queue.approx()
        ledger.sqs_call()
        if visible > 0:
            self.trigger.post(1, hops + 1)
