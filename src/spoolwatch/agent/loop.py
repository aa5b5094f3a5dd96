"""The agent: drains one or more spools into a sink, and its result.

:class:`Agent` is here; its result (:class:`~spoolwatch.agent.result.AgentResult`,
:data:`~spoolwatch.agent.result.EXIT_CODES`, both importable from here too) is in
:mod:`spoolwatch.agent.result`, the stats file and heartbeat bodies in
:mod:`spoolwatch.agent.reporting`, one channel's reader in :mod:`spoolwatch.agent.channel`.

Python API (what ``spoolwatch agent run`` and the serverless handler call)::

    from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
    agent = Agent(AgentConfig(target=TargetConfig(url=..., api_token=Secret(...)),
                              channels=[ChannelConfig(name="q", address=queue_url)]))
    result = agent.run(until_empty=True, deadline=lambda: ctx.get_remaining_time_in_millis()
                       / 1000)
    result.exit_code, result.failed_because   # 0/1/2/130; None or a failure kind

``Agent(config, sink=None, *, open_spool=..., clock=..., rng=..., on_stats=None)`` — without a
sink it builds :class:`~spoolwatch.sinks.http.HttpSink` (or the dry-run sink) from the config;
:meth:`run` closes it when it returns (and builds a new one if run again). One agent may
``run`` many times; it keeps its memory of delivered ids between runs.
``on_stats(snapshot)`` is called every ``stats_interval_seconds`` (a live display, a metrics
exporter). While any agent runs, the garbage collector's first threshold is raised (records
are acyclic; frequent young-generation passes are wasted work) and restored afterwards.

``Agent.run(until_empty=False, max_seconds=None, deadline=None, deadline_margin=10.0,
check_credentials=True)`` first asks the sink whether the destination takes its credentials
(:meth:`~spoolwatch.sinks.base.Sink.check_credentials`, one cheap request; skipped in a dry
run): a refusal ends the run before any record is read (``error``, exit code 2). It then
starts one reader thread per channel and returns an :class:`AgentResult` when: every channel
read empty (``until_empty``), ``max_seconds`` passed, ``deadline()`` (seconds remaining)
fell to ``deadline_margin``, a channel's send was refused for its credentials
(``stopped_by="auth"``), or :meth:`Agent.stop` was called (signals). The stop order:
stop reading → finish the batch in hand (its retries may go on for
``retry.shutdown_grace_seconds``, or until ``deadline_margin / 3`` remain; after that the
records are given back un-acked, never dropped) → ack → close spools → a last heartbeat
(``"state": "stopped"`` with the final counts, when heartbeats are on) → close the sink.

``Agent.stop()`` is safe from a signal handler or another thread; calling it twice gives up
on batches in hand at once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from spoolwatch.agent.channel import ChannelReader
from spoolwatch.agent.config import AgentConfig
from spoolwatch.agent.control import StopControl
from spoolwatch.agent.dedupe import SeenIds
from spoolwatch.agent.reporting import heartbeat_status, write_stats_file
from spoolwatch.agent.result import EXIT_CODES, AgentResult
from spoolwatch.agent.stats import ChannelStats, StatsSnapshot
from spoolwatch.sinks.base import Sink
from spoolwatch.spools.base import Spool
from spoolwatch.spools.registry import open_spool as default_open_spool

__all__ = ["EXIT_CODES", "Agent", "AgentResult"]

logger = logging.getLogger(__name__)

#: Young-generation threshold of the garbage collector while agents run.
_GC_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Raise the collector's first threshold while any agent runs, restore it after.

    Decoded records are acyclic, so the default threshold (a pass every 700 allocations)
    spends close to a tenth of the agent's CPU on collections that free nothing.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], _GC_THRESHOLD), _gc_saved[1], _gc_saved[2])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)


class Agent:
    """Drains the configured channels into a sink; see the module docstring."""

    def __init__(
        self,
        config: AgentConfig,
        sink: Sink | None = None,
        *,
        open_spool: Callable[..., Spool] = default_open_spool,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_stats: Callable[[StatsSnapshot], None] | None = None,
    ) -> None:
        self.config = config
        self.agent_id = config.agent_id or f"{socket.gethostname()}-{os.getpid()}"
        self._own_sink = sink is None
        self._sink = sink if sink is not None else _default_sink(config, self.agent_id)
        self._sink_open = True
        self._open_spool = open_spool
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_stats = on_stats
        self._seen = SeenIds(config.dedupe.max_ids, config.dedupe.ttl_seconds, clock=clock)
        self._control: StopControl | None = None
        self._pending_stop: str | None = None
        self.stats = {c.name: ChannelStats(c.name) for c in config.channels}
        self._beating = False

    @property
    def sink(self) -> Sink:
        """The sink records go to."""
        return self._sink

    def close(self) -> None:
        """Close the sink the agent built (its HTTP connections); a given sink stays open."""
        if self._own_sink and self._sink_open:
            self._sink.close()
            self._sink_open = False

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stop(self, reason: str = "signal") -> None:
        """Stop reading and finish the batch in hand; twice: give up on it now."""
        if self._control is None:
            self._pending_stop = reason
        else:
            self._control.request_stop(reason)

    def run(
        self,
        until_empty: bool = False,
        max_seconds: float | None = None,
        deadline: Callable[[], float] | None = None,
        deadline_margin: float = 10.0,
        check_credentials: bool = True,
    ) -> AgentResult:
        """Drain until empty / ``max_seconds`` / ``deadline`` / :meth:`stop`; see module doc."""
        until_empty = until_empty or self.config.run_once
        if not self._sink_open:
            self._sink, self._sink_open = _default_sink(self.config, self.agent_id), True
        if check_credentials and not self.config.dry_run:
            refused = self._refused()
            if refused is not None:
                return refused
        self.stats = {c.name: ChannelStats(c.name) for c in self.config.channels}
        control = StopControl(
            grace=self.config.retry.shutdown_grace_seconds,
            deadline=deadline,
            margin=deadline_margin,
            clock=self._clock,
        )
        self._control = control
        if self._pending_stop:
            control.request_stop(self._pending_stop)
            self._pending_stop = None
        readers = [
            ChannelReader(
                channel,
                config=self.config,
                sink=self._sink,
                seen=self._seen,
                control=control,
                stats=self.stats[channel.name],
                until_empty=until_empty,
                open_spool=self._open_spool,
                rng=random.Random(self._rng.random()),
                clock=self._clock,
            )
            for channel in self.config.channels
        ]
        threads = [
            threading.Thread(target=r.run, name=f"spoolwatch-{r.channel.name}", daemon=True)
            for r in readers
        ]
        started = self._clock()
        logger.info(
            "agent %s: %d channel(s) → %s%s",
            self.agent_id,
            len(readers),
            self._sink.kind,
            " (dry run)" if self.config.dry_run else "",
        )
        for thread in threads:
            thread.start()
        self._beating = self.config.heartbeat_enabled and not self.config.dry_run
        try:
            with _fewer_gc_passes():
                self._supervise(threads, control, started, max_seconds)
                for thread in threads:
                    thread.join()
        except BaseException:
            # Readers stop only when told: without this the joins below would wait for ever.
            control.request_stop("error")
            raise
        finally:
            for thread in threads:
                thread.join()
            try:
                if self._beating:
                    # Without it the fleet keeps the last in-run state (often "sent 0").
                    reason = control.reason or ("empty" if until_empty else "stop")
                    self._heartbeat(self._clock() - started, state="stopped", stopped_by=reason)
            finally:
                self.close()
        result = self._result(readers, control, started, until_empty)
        self._report(result)
        return result

    def _refused(self) -> AgentResult | None:
        """The result of a run the destination refuses (its credentials), else ``None``."""
        started = self._clock()
        try:
            message = self._sink.check_credentials()
        except Exception as exc:  # a sink breaking its promise: the first send will tell
            logger.debug("checking the credentials failed: %s", exc)
            message = None
        if message is None:
            return None
        logger.error("agent %s cannot run: %s", self.agent_id, message)
        self.close()
        return AgentResult(
            stopped_by="auth",
            error=message,
            failures={"auth": 1},
            last_error=message,
            elapsed=self._clock() - started,
        )

    def _supervise(
        self,
        threads: list[threading.Thread],
        control: StopControl,
        started: float,
        max_seconds: float | None,
    ) -> None:
        interval = self.config.stats_interval_seconds
        next_stats = started + interval
        next_beat = started
        previous = (started, 0, 0)
        while any(t.is_alive() for t in threads):
            now = self._clock()
            if max_seconds is not None and now - started >= max_seconds:
                control.request_stop("max_seconds")
            control.stop_requested()
            if now >= next_stats:
                snapshot = self.snapshot(now - started, previous)
                previous = (now, snapshot.total("sent"), snapshot.total("rows"))
                self._publish(snapshot)
                next_stats = now + interval
            if self._beating and now >= next_beat:
                self._beating = self._heartbeat(now - started)
                next_beat = now + self.config.heartbeat_interval_seconds
            for thread in threads:
                thread.join(0.05)
                if not thread.is_alive():
                    continue
                break

    def snapshot(
        self, elapsed: float, previous: tuple[float, int, int] | None = None
    ) -> StatsSnapshot:
        """Counters of every channel now, with rates since ``previous`` (time, sent, rows)."""
        channels = {name: stats.as_dict() for name, stats in self.stats.items()}
        sent = sum(c["sent"] for c in channels.values())
        rows = sum(c["rows"] for c in channels.values())
        since, sent0, rows0 = previous or (self._clock() - elapsed, 0, 0)
        span = max(1e-9, self._clock() - since)
        return StatsSnapshot(
            elapsed=elapsed,
            channels=channels,
            records_per_second=(sent - sent0) / span,
            rows_per_second=(rows - rows0) / span,
        )

    def _publish(self, snapshot: StatsSnapshot) -> None:
        logger.info("stats: %s", snapshot.line())
        if self._on_stats is not None:
            self._on_stats(snapshot)
        if self.config.stats_path:
            write_stats_file(Path(str(self.config.stats_path)), self.agent_id, snapshot)

    def _heartbeat(
        self, elapsed: float, *, state: str = "running", stopped_by: str | None = None
    ) -> bool:
        """Post the agent's state; False when the destination takes no heartbeats."""
        status = heartbeat_status(
            self.snapshot(elapsed),
            agent_id=self.agent_id,
            elapsed=elapsed,
            state=state,
            stopped_by=stopped_by,
        )
        try:
            return self._sink.heartbeat(status)
        except Exception as exc:  # health reports must never stop the agent
            logger.debug("heartbeat failed: %s", exc)
            return True

    def _result(
        self, readers: list[ChannelReader], control: StopControl, started: float, until_empty: bool
    ) -> AgentResult:
        result = AgentResult(elapsed=self._clock() - started)
        failures: Counter[str] = Counter()
        for reader in readers:
            stats = reader.stats.as_dict()
            result.channels[reader.channel.name] = stats
            for key in (
                "read",
                "sent",
                "rows",
                "requests",
                "quarantined",
                "skipped",
                "duplicates",
                "retries",
                "unacked",
            ):
                name = {"read": "records_read", "sent": "records_sent", "rows": "rows_sent"}.get(
                    key, key
                )
                setattr(result, name, getattr(result, name) + stats[key])
            failures.update(stats["failures"])
            result.last_error = stats["last_error"] or result.last_error
            if reader.fatal:
                result.channel_errors[reader.channel.name] = reader.fatal
        result.failures = dict(failures)
        result.stopped_by = control.reason or ("empty" if until_empty else "stop")
        return result

    def _report(self, result: AgentResult) -> None:
        snapshot = self.snapshot(result.elapsed)
        self._publish(snapshot)
        logger.info(
            "agent %s stopped (%s) after %.1f s: %d sent, %d quarantined, %d skipped, "
            "%d duplicates, %d un-acked",
            self.agent_id,
            result.stopped_by,
            result.elapsed,
            result.records_sent,
            result.quarantined,
            result.skipped,
            result.duplicates,
            result.unacked,
        )


def _default_sink(config: AgentConfig, agent_id: str) -> Sink:
    from spoolwatch.sinks.http import DryRunSink, HttpSink

    cls = DryRunSink if config.dry_run else HttpSink
    return cls(
        config.target,
        config.batching,
        max_body_chars=config.quarantine.max_body_chars,
        agent_id=agent_id,
    )
