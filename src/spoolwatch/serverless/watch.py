"""What runs beside an agent in Lambda: lease watch, probe confirmation, re-deciding."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from spoolwatch.agent.loop import Agent
from spoolwatch.scaling import BreakerDecision, BreakerState, Decision
from spoolwatch.scaling.leases import LeaseHeartbeat
from spoolwatch.serverless.decision_log import log_decision

if TYPE_CHECKING:
    from spoolwatch.serverless.worker import ServerlessAgent

__all__ = ["WAITING_SECONDS", "RunWatch"]

#: A read that has waited this long for its first record says the queue is (nearly) empty.
WAITING_SECONDS = 1.0

log = logging.getLogger("spoolwatch.serverless.worker")


class RunWatch:
    """Beside a running agent: stops it when its lease is lost, closes a half-open breaker
    as soon as the probe's first records were accepted (so recovery does not wait for the
    probe's whole run), and re-decides every heartbeat period. An agent that had no records
    accepted since its previous decision, or that has been waiting in a read for longer
    than :data:`WAITING_SECONDS`, recruits nobody and does not count as saturated: it has
    seen the queue run dry, whatever the lagging counts still say (it may still stop, as
    surplus or for the breaker). The agent reads with the default monotonic clock.
    """

    def __init__(
        self,
        worker: ServerlessAgent,
        agent: Agent,
        heartbeat: LeaseHeartbeat,
        gate: BreakerDecision,
        holder: str,
    ) -> None:
        self.worker = worker
        self.agent = agent
        self.heartbeat = heartbeat
        self.gate = gate
        self.holder = holder
        self.probe_confirmed = False
        self.recruited = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _should_stop(self, decision: Decision) -> bool:
        """Stop when the breaker opened (records go back at once, not after retries until
        the deadline) or when this agent is surplus: fewer agents wanted than run."""
        if decision.breaker is BreakerState.OPEN:
            log_decision("agent_stopping", holder=self.holder, why="breaker_open")
            self.agent.stop("breaker_open")
            return True
        keep = max(1, decision.wanted)
        if decision.running > keep and self.worker.is_surplus(self.heartbeat.lease.slot, keep):
            log_decision(
                "agent_stopping",
                holder=self.holder,
                why="surplus",
                running=decision.running,
                wanted=decision.wanted,
            )
            self.agent.stop("surplus")
            return True
        return False

    def _sent(self) -> int:
        stats = getattr(self.agent, "stats", {})
        return sum(getattr(channel, "sent", 0) for channel in stats.values())

    def _saturated(self) -> bool:
        """Whether the agent's last read came back full (more may wait than counted)."""
        stats = getattr(self.agent, "stats", {})
        return any(getattr(channel, "last_read_full", False) for channel in stats.values())

    def _waiting(self) -> bool:
        """Whether a read has been waiting for its first record for a while."""
        now = time.monotonic()
        stats = getattr(self.agent, "stats", {})
        for channel in stats.values():
            since = getattr(channel, "reading_since", None)
            if since is not None and now - since > WAITING_SECONDS:
                return True
        return False

    def _run(self) -> None:
        interval = self.worker.settings.scaling.heartbeat_seconds
        next_decision = time.monotonic() + interval
        decided = False
        sent_then = 0
        while not self._done.wait(0.2):
            if self.heartbeat.lost.is_set():
                log.warning("lease slot %s was lost; stopping the agent", self.heartbeat.lease.slot)
                self.agent.stop("lease_lost")
                return
            sent = self._sent()
            if self.gate.probe and not self.probe_confirmed and sent > 0:
                state = self.worker.breaker.record_success(probe=True)
                self.probe_confirmed = True
                log_decision("probe_succeeded", holder=self.holder, breaker=state.value)
            # The first decision waits for the first accepted records: then the backlog is
            # real (the queue's counts lag) and the destination takes records.
            if (not decided and sent > 0) or time.monotonic() >= next_decision:
                decided = True
                next_decision = time.monotonic() + interval
                unconfirmed = self.gate.probe and not self.probe_confirmed
                waiting = self._waiting()
                recruited, decision = self.worker.redecide(
                    self.holder,
                    self.gate if unconfirmed else None,
                    saturated=self._saturated() and not waiting,
                    recruit=sent > sent_then and not waiting,
                )
                sent_then = sent
                self.recruited += recruited
                if decision is not None and not unconfirmed and self._should_stop(decision):
                    return
