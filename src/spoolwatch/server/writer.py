"""The service's ingestion writer: many requests, few transactions.

:class:`IngestWriter` owns one writer thread. Requests are handed to it with
:meth:`IngestWriter.submit` (from the event loop: ``await asyncio.wrap_future(...)``); it
takes whatever requests are waiting, folds them in one transaction
(:meth:`Ingestor.commit <spoolwatch.server.ingestion.Ingestor.commit>`), and only then
completes each request's future: a request is answered after its transaction committed,
never before. While one group commits, the next one gathers, so the busier the service the
larger the groups and the fewer the commits.

On PostgreSQL the writer has several lanes (threads), each folding the deployments that hash
to it, so groups of different deployments commit in parallel and a group never waits for
another process's lock on a deployment it does not touch.

Requests are checked (parsed, validated, their deployment looked up) by a small pool of
preparation threads before they reach the writer, so a bad request is refused before it
joins a group and the writer spends its time folding. Neither the writer nor the
preparation threads are the event loop's thread pool: reads (queries, the dashboard,
``/api/v2/version/``) never wait behind ingestion for a thread.

A request folded in slices (a large body, see :mod:`spoolwatch.server.group_commit`) folds
one slice per group and goes back to the front of the queue, so other requests' groups
commit between its slices.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from spoolwatch.logs import forget_request
from spoolwatch.server.group_commit import UNFINISHED
from spoolwatch.server.ingest_request import IngestKind, IngestResult, PreparedRequest
from spoolwatch.server.ingestion import Ingestor
from spoolwatch.store.base import StoreUnavailable

__all__ = ["INLINE_PREPARE_BYTES", "GroupStats", "IngestWriter"]

logger = logging.getLogger(__name__)

#: Bodies up to this size are checked on the event loop's thread (see IngestWriter.answer).
INLINE_PREPARE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Since the writer started: transactions committed by groups, requests they folded
    (a sliced request counts once per slice), and the largest group."""

    groups: int = 0
    requests: int = 0
    largest: int = 0


@dataclass(slots=True)
class _Job:
    """A request waiting for its group; its answer goes to ``future``, an asyncio future of
    ``loop`` when ``loop`` is set (settled on that loop's thread)."""

    future: Future[IngestResult] | asyncio.Future[IngestResult]
    request: PreparedRequest
    loop: asyncio.AbstractEventLoop | None = None


def _settle(pairs: list[tuple[asyncio.Future[IngestResult], Any]]) -> None:
    """Answer the asyncio futures of one group (on their loop's thread)."""
    for future, outcome in pairs:
        if future.done():  # the client went away and its request was cancelled
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class _Lane:
    """One writer thread and the requests waiting for it."""

    def __init__(self, ingestor: Ingestor, name: str, max_requests: int, max_items: int) -> None:
        self.ingestor = ingestor
        self.max_requests = max_requests
        self.max_items = max_items
        self.waiting: deque[_Job] = deque()
        self.ready = threading.Condition()
        self.stopping = False
        self.committing = 0
        self.stats = GroupStats()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def put(self, job: _Job) -> None:
        with self.ready:
            self.waiting.append(job)
            self.ready.notify()

    def stop(self) -> None:
        with self.ready:
            self.stopping = True
            self.ready.notify_all()

    def _take(self) -> list[_Job] | None:
        """The next group: whatever is waiting, within the limits (``None``: stop)."""
        with self.ready:
            while not self.waiting:
                if self.stopping:
                    return None
                self.ready.wait()
            group: list[_Job] = []
            items = 0
            while self.waiting and len(group) < self.max_requests:
                size = min(len(self.waiting[0].request.items), self.ingestor.slice_items)
                if group and items + size > self.max_items:
                    break
                group.append(self.waiting.popleft())
                items += size
            self.committing = len(group)
            return group

    def _run(self) -> None:
        # A group holds many requests: its lines (a failed commit) name none of them.
        forget_request()
        while (group := self._take()) is not None:
            try:
                outcomes: list[Any] = self.ingestor.commit([job.request for job in group])
            except BaseException as exc:  # every request of the group hears it
                logger.exception("a group commit failed")
                outcomes = [exc] * len(group)
            unfinished = []
            # One wake-up per event loop for the whole group, not one per request.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any]]] = {}
            for job, outcome in zip(group, outcomes, strict=True):
                if outcome is UNFINISHED:
                    unfinished.append(job)
                elif job.loop is not None:
                    by_loop.setdefault(job.loop, []).append((job.future, outcome))
                elif isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)
            for loop, pairs in by_loop.items():
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    loop.call_soon_threadsafe(_settle, pairs)
            with self.ready:
                self.committing = 0
                self.stats = GroupStats(
                    self.stats.groups + 1,
                    self.stats.requests + len(group),
                    max(self.stats.largest, len(group)),
                )
                self.waiting.extendleft(reversed(unfinished))


class IngestWriter:
    """Folds submitted requests in shared transactions on its own threads (see the module
    doc). Thread-safe.

    A group holds at most ``max_group_requests`` requests and about ``max_group_items``
    items (a request's slice counts as its items). ``lanes`` writer threads (default: one on
    SQLite, which has one writer at a time; four on PostgreSQL) each fold the deployments
    that hash to them, so on PostgreSQL groups of different deployments commit in parallel,
    within a process and across processes, and a group locks only its lane's deployments.
    """

    def __init__(
        self,
        ingestor: Ingestor,
        *,
        max_group_requests: int = 500,
        max_group_items: int = 5000,
        prepare_threads: int = 2,
        lanes: int | None = None,
    ) -> None:
        self.ingestor = ingestor
        self.max_group_requests = max_group_requests
        self.max_group_items = max_group_items
        self._prepare_threads = prepare_threads
        default_lanes = 4 if ingestor.store.dialect == "postgresql" else 1
        self._lane_count = lanes or default_lanes
        self._lock = threading.Lock()
        self._stopping = False
        self._lanes: list[_Lane] = []
        self._pool: ThreadPoolExecutor | None = None

    @property
    def stats(self) -> GroupStats:
        """How many groups and requests were committed so far (all lanes)."""
        with self._lock:
            lanes = list(self._lanes)
        all_stats = [lane.stats for lane in lanes]
        return GroupStats(
            sum(s.groups for s in all_stats),
            sum(s.requests for s in all_stats),
            max((s.largest for s in all_stats), default=0),
        )

    @property
    def problem(self) -> str | None:
        """Why the writer cannot take requests (stopping, or a writer thread that died), or
        ``None`` while it can. Its threads start with the first request."""
        with self._lock:
            if self._stopping:
                return "the ingest writer is stopping"
            dead = [lane.thread.name for lane in self._lanes if not lane.thread.is_alive()]
        return f"ingest writer thread {dead[0]} has stopped" if dead else None

    @property
    def waiting(self) -> int:
        """Requests checked and waiting for their lane's next group."""
        with self._lock:
            return sum(len(lane.waiting) for lane in self._lanes)

    @property
    def committing(self) -> int:
        """Requests in the groups being folded right now (0 when every lane is idle)."""
        with self._lock:
            return sum(lane.committing for lane in self._lanes)

    def submit(
        self,
        kind: IngestKind | str,
        deployment_id: str | None,
        body: bytes | Mapping[str, Any],
        *,
        metric_id: str | None = None,
        idempotency_key: str | None = None,
        record_ids: Sequence[str] = (),
        record_items: Sequence[int] = (),
    ) -> Future[IngestResult]:
        """Queue one request (the arguments of :meth:`Ingestor.ingest`); the future completes
        once its transaction committed, or with its error (``IngestError``,
        ``StoreUnavailable``)."""
        future: Future[IngestResult] = Future()
        pool = self._start()
        pool.submit(
            self._prepare,
            future,
            kind,
            deployment_id,
            body,
            metric_id,
            idempotency_key,
            tuple(record_ids),
            tuple(record_items),
        )
        return future

    async def answer(
        self,
        kind: IngestKind | str,
        deployment_id: str | None,
        body: bytes,
        *,
        metric_id: str | None = None,
        idempotency_key: str | None = None,
        record_ids: Sequence[str] = (),
        record_items: Sequence[int] = (),
    ) -> IngestResult:
        """:meth:`submit` for a coroutine on an event loop: the answer once the request's
        transaction committed (or its ``IngestError`` / ``StoreUnavailable`` raised).

        A small body (up to :data:`INLINE_PREPARE_BYTES`) is checked on the loop's thread
        itself, where that costs less than a hand-over to a preparation thread; a larger
        one is checked on a preparation thread so the loop keeps answering.
        """
        pool = self._start()
        args = (kind, deployment_id, body)
        options: dict[str, Any] = {
            "metric_id": metric_id,
            "idempotency_key": idempotency_key,
            "record_ids": tuple(record_ids),
            "record_items": tuple(record_items),
        }
        loop = asyncio.get_running_loop()
        if len(body) <= INLINE_PREPARE_BYTES:
            request = self.ingestor.prepare(*args, **options)
        else:
            # In this request's context: what preparing it logs names the request.
            request = await loop.run_in_executor(
                pool,
                functools.partial(
                    contextvars.copy_context().run, self.ingestor.prepare, *args, **options
                ),
            )
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._lane_of(request).put(_Job(future, request, loop))
        return await future

    def ingest(self, *args: Any, **kwargs: Any) -> IngestResult:
        """:meth:`submit` and wait for the answer (for callers in a thread of their own)."""
        return self.submit(*args, **kwargs).result()

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking requests, fold those already queued, and stop the threads."""
        with self._lock:
            self._stopping = True
            pool, lanes = self._pool, list(self._lanes)
        if pool is not None:
            pool.shutdown(wait=True)
        for lane in lanes:
            lane.stop()
        for lane in lanes:
            lane.thread.join(timeout)

    def _start(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._stopping:
                raise StoreUnavailable("the service is stopping")
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self._prepare_threads, thread_name_prefix="spoolwatch-ingest-prepare"
                )
                self._lanes = [
                    _Lane(
                        self.ingestor,
                        f"spoolwatch-ingest-writer-{n}",
                        self.max_group_requests,
                        self.max_group_items,
                    )
                    for n in range(self._lane_count)
                ]
            return self._pool

    def _prepare(
        self,
        future: Future[IngestResult],
        kind: IngestKind | str,
        deployment_id: str | None,
        body: bytes | Mapping[str, Any],
        metric_id: str | None,
        key: str | None,
        record_ids: tuple[str, ...],
        record_items: tuple[int, ...],
    ) -> None:
        if not future.set_running_or_notify_cancel():
            return  # the client went away before its request was looked at
        try:
            request = self.ingestor.prepare(
                kind,
                deployment_id,
                body,
                metric_id=metric_id,
                idempotency_key=key,
                record_ids=record_ids,
                record_items=record_items,
            )
        except BaseException as exc:  # handed to the waiting request
            future.set_exception(exc)
            return
        self._lane_of(request).put(_Job(future, request))

    def _lane_of(self, request: PreparedRequest) -> _Lane:
        # A deployment always goes to the same lane: its requests stay in arrival order.
        return self._lanes[zlib.crc32(request.lock_name.encode()) % len(self._lanes)]
