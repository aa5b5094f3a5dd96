"""What runs beside an agent in Lambda: lease watch, probe confirmation, re-deciding.

The rules of each turn are :func:`spoolwatch.scaling.session.watch_turn` and
:func:`~spoolwatch.scaling.session.stop_reason`; this module reads the agent's statistics
and the clock and does what the turn says.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from spoolwatch.agent.loop import Agent
from spoolwatch.scaling import BreakerDecision, BreakerState, Decision
from spoolwatch.scaling.ceiling import Throughput
from spoolwatch.scaling.leases import LeaseHeartbeat
from spoolwatch.scaling.session import (
    WAITING_SECONDS,
    WatchState,
    read_waiting,
    remember,
    stop_reason,
    watch_turn,
)
from spoolwatch.serverless.decision_log import log_decision

__all__ = ["WAITING_SECONDS", "Redecide", "RunWatch"]

log = logging.getLogger("spoolwatch.serverless.worker")


class Redecide(Protocol):
    """``ServerlessAgent.redecide``: decide on fresh counts and post the recruits."""

    def __call__(
        self,
        holder: str,
        gate: BreakerDecision | None = None,
        *,
        saturated: bool = False,
        recruit: bool = True,
        throttled: bool = False,
        per_agent_rate: float | None = None,
        before: Throughput | None = None,
    ) -> tuple[int, Decision | None]: ...


class ProbeReport(Protocol):
    """``CircuitBreaker.record_success``."""

    def __call__(self, *, probe: bool = False) -> BreakerState: ...


class RunWatch:
    """Beside a running agent: stops it when its lease is lost, closes a half-open breaker
    as soon as the probe's first records were accepted (so recovery does not wait for the
    probe's whole run), and re-decides every heartbeat period (the rules:
    :func:`~spoolwatch.scaling.session.watch_turn`). The agent reads with the default
    monotonic clock.
    """

    def __init__(
        self,
        agent: Agent,
        heartbeat: LeaseHeartbeat,
        gate: BreakerDecision,
        holder: str,
        *,
        interval: float,
        redecide: Redecide,
        record_success: ProbeReport,
        live_slots: Callable[[], Sequence[int]],
    ) -> None:
        self.agent = agent
        self.heartbeat = heartbeat
        self.gate = gate
        self.holder = holder
        self.interval = interval
        self.redecide = redecide
        self.record_success = record_success
        self.live_slots = live_slots
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
        why = stop_reason(decision, self.heartbeat.lease.slot, self.live_slots)
        if why is None:
            return False
        if why == "surplus":
            log_decision(
                "agent_stopping",
                holder=self.holder,
                why=why,
                running=decision.running,
                wanted=decision.wanted,
            )
        else:
            log_decision("agent_stopping", holder=self.holder, why=why)
        self.agent.stop(why)
        return True

    def _sent(self) -> int:
        stats = getattr(self.agent, "stats", {})
        return sum(getattr(channel, "sent", 0) for channel in stats.values())

    def _saturated(self) -> bool:
        """Whether the agent's last read came back full (more may wait than counted)."""
        stats = getattr(self.agent, "stats", {})
        return any(getattr(channel, "last_read_full", False) for channel in stats.values())

    def _throttled(self) -> int:
        """The destination's 429 answers to this agent so far."""
        stats = getattr(self.agent, "stats", {})
        return sum(
            getattr(channel, "failures", {}).get("http_429", 0) for channel in stats.values()
        )

    def _waiting(self) -> bool:
        """Whether a read has been waiting for its first record for a while."""
        now = time.monotonic()
        stats = getattr(self.agent, "stats", {})
        return any(
            read_waiting(getattr(channel, "reading_since", None), now) for channel in stats.values()
        )

    def _run(self) -> None:
        state = WatchState.start(time.monotonic(), self.interval, probe=self.gate.probe)
        while not self._done.wait(0.2):
            if self.heartbeat.lost.is_set():
                log.warning("lease slot %s was lost; stopping the agent", self.heartbeat.lease.slot)
                self.agent.stop("lease_lost")
                return
            state, turn = watch_turn(
                state,
                now=time.monotonic(),
                interval=self.interval,
                sent=self._sent(),
                full=self._saturated(),
                waiting=self._waiting(),
                throttled=self._throttled(),
            )
            if turn.confirm_probe:
                breaker = self.record_success(probe=True)
                self.probe_confirmed = True
                log_decision("probe_succeeded", holder=self.holder, breaker=breaker.value)
            if not turn.decide:
                continue
            recruited, decision = self.redecide(
                self.holder,
                self.gate if turn.unconfirmed else None,
                saturated=turn.saturated,
                recruit=turn.recruit,
                throttled=turn.throttled,
                per_agent_rate=turn.per_agent_rate,
                before=turn.before,
            )
            state = remember(state, decision)
            self.recruited += recruited
            if decision is not None and not turn.unconfirmed and self._should_stop(decision):
                return
