"""Planning a group commit: what each request of a group still has to fold.

Requests are planned in arrival order against what the store knows (stored answers by key,
known record ids) *and* what the requests before them in the same group claimed, so a group
dedupes exactly as the same requests would one transaction each:

- a key answered before (stored, or claimed earlier in this group for the same path) is a
  replay of that answer and folds nothing; a key used for another path is a 422;
- an item whose record id is known or claimed earlier is dropped (kinds with one item per
  record); a request whose record ids are all known is a duplicate;
- a request folded in slices (``progress_key`` set) folds at most ``slice_items`` items per
  group, from where its progress row says it stopped (see
  :mod:`spoolwatch.server.group_commit`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from spoolwatch.server import schemas
from spoolwatch.server.ingest_request import (
    IngestKind,
    IngestResult,
    PreparedRequest,
    conflict,
)
from spoolwatch.store.ingest_log import IN_PROGRESS, StoredAnswer

__all__ = ["Plan", "Planned", "Unfinished", "plan_group"]

logger = logging.getLogger(__name__)


class Unfinished:
    """The outcome of a request folded in slices that has slices left: fold it again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNFINISHED"


UNFINISHED = Unfinished()

Outcome = IngestResult | BaseException | Unfinished


@dataclass(slots=True)
class Plan:
    """A request of the group that folds something."""

    index: int
    request: PreparedRequest  # only the items this group folds
    new_ids: list[str]  # record ids to remember with this group
    rows_before: int = 0  # folded by earlier slices of this request
    resumed: bool = False  # its key already holds a slice progress row
    done: int = 0  # items folded once this group commits (slices)
    finished: bool = True  # whether this group folds its last items
    result: IngestResult | None = None
    #: The body position of each item folded (``None``: the same as in ``request``), so an
    #: error found while folding names the item as the client sent it.
    positions: list[int] | None = None


@dataclass(slots=True)
class Planned:
    """The plans of a group, the outcomes known without folding, and repeated keys."""

    plans: list[Plan] = field(default_factory=list)
    decided: dict[int, Outcome] = field(default_factory=dict)
    echoes: dict[int, int] = field(default_factory=dict)  # index -> first index of its key


def duplicate(request: PreparedRequest) -> IngestResult:
    """The answer to a request whose records were all ingested before."""
    return IngestResult(
        202,
        schemas.IngestAccepted(message="duplicate", duplicate=True).model_dump(),
        duplicate=True,
        deployment_id=request.deployment_id,
        kind=request.kind,
    )


def plan_group(
    requests: list[tuple[int, PreparedRequest]],
    answers: dict[str, StoredAnswer],
    claimed: set[str],
    slice_items: int,
) -> Planned:
    """Plan ``requests`` (see the module doc); ``claimed`` starts as the known record ids."""
    keys: dict[str, tuple[int, str]] = {}  # keys claimed in this group: first index, path
    planned = Planned()
    for index, request in requests:
        key = request.answer_key
        start, rows_before, resumed = 0, 0, False
        if key is not None:
            first, stored = keys.get(key), answers.get(key)
            seen_path = first[1] if first is not None else stored.path if stored else None
            if seen_path is not None and seen_path != request.path:
                planned.decided[index] = conflict()
                continue
            if first is not None:
                planned.echoes[index] = first[0]
                continue
            if stored is not None and stored.status != IN_PROGRESS:
                planned.decided[index] = IngestResult(
                    stored.status, stored.body, location=stored.location, duplicate=True
                )
                continue
            if stored is not None:  # folded in slices, resumed where it stopped
                start, rows_before, resumed = stored.body["done"], stored.body["rows"], True
            keys[key] = (index, request.path)
        plan = _plan_one(index, request, claimed, start, slice_items)
        if plan is None:
            planned.decided[index] = duplicate(request)
            continue
        plan.rows_before, plan.resumed = rows_before, resumed
        planned.plans.append(plan)
    return planned


def _new_items(
    request: PreparedRequest, owners: list[int], claimed: set[str], start: int, end: int
) -> list[int]:
    """Positions in ``start:end`` whose record is neither claimed before this request nor a
    second copy of a record earlier in it; their records join ``claimed``."""
    first: dict[str, int] = {}
    for index, record_id in enumerate(request.record_ids):
        first.setdefault(record_id, index)
    kept, fresh = [], set()
    for position in range(start, end):
        owner = owners[position]
        record_id = request.record_ids[owner]
        if first[record_id] == owner and (record_id in fresh or record_id not in claimed):
            fresh.add(record_id)
            kept.append(position)
    claimed |= fresh
    return kept


def _plan_one(
    index: int, request: PreparedRequest, claimed: set[str], start: int, slice_items: int
) -> Plan | None:
    """The plan of ``request`` from item ``start`` on, without the items of records already
    claimed; ``None`` when it is a duplicate. Adds the ids it folds to ``claimed``."""
    total = len(request.items)
    end = min(start + slice_items, total) if request.progress_key is not None else total
    finished = end >= total
    owners = request.item_records()
    if owners is not None:
        kept = _new_items(request, owners, claimed, start, end)
        if not kept and not start and finished:
            return None
        trimmed = request.with_items([request.items[p] for p in kept])
        ids = list(dict.fromkeys(request.record_ids[owners[p]] for p in kept))
        positions = None if len(kept) == total else kept
        return Plan(index, trimmed, ids, done=end, finished=finished, positions=positions)
    unique = list(dict.fromkeys(request.record_ids))
    new = [r for r in unique if r not in claimed]
    if unique and not new and not start:
        return None
    if new and len(new) < len(unique) and request.kind is not IngestKind.ACTUALS and not start:
        # Buckets and events cannot be told apart by record: folded whole.
        logger.warning(
            "request repeats %d of %d record ids; folding it whole",
            len(unique) - len(new),
            len(unique),
        )
    claimed.update(new)
    if not finished:
        new = []  # remembered with the last slice: a retry before then resumes by progress
    if start or not finished:
        request = request.with_items(request.items[start:end])
        return Plan(
            index, request, new, done=end, finished=finished, positions=list(range(start, end))
        )
    return Plan(index, request, new, done=end, finished=finished)
