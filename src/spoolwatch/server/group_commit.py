"""Group commit: several ingestion requests folded in one write transaction.

:func:`fold_group` takes requests that are already validated
(:class:`~spoolwatch.server.ingest_request.PreparedRequest`) and folds them all in one
transaction, so a busy service pays one commit (and one lock round, one dedupe query, one
read-merge-write of each hourly row) per group instead of per request:

1. the advisory locks of every deployment in the group are taken in sorted order (PostgreSQL;
   processes that lock the same deployments in the same order cannot deadlock);
2. the stored answers of the group's Idempotency-Keys and its known record ids are read in
   one query each;
3. each request, in arrival order, is planned against what the store knows *and* what the
   requests before it in the group claimed: a key seen before is a replay (of the stored
   answer, or of the earlier request's answer in this group) or a 422 when it named another
   request; items of records already ingested (or claimed earlier in the group) are dropped;
   a request left with nothing to fold is a duplicate. So a group folds each record once,
   exactly as the same requests one transaction each would;
4. requests of the same deployment, kind and options are folded as one (their items joined,
   as the agent itself merges records);
5. the answers of keyed requests and the new record ids are written, and the group commits.

A request's answer exists only once its transaction committed: the caller answers nobody
before :func:`fold_group` returns. When folding raises for a merged set of requests, the
transaction is rolled back and the group is folded again with that set one request at a
time; when a single request raises, it is answered with its error (a 422 naming the field
for :class:`~spoolwatch.errors.InvalidRecord`) and the group is folded again without it. A
rolled-back attempt leaves nothing behind, so a failed request never changes what its
neighbours see, and neighbours never lose a record to a request that did not commit. A store
outage fails every request of the group with :class:`StoreUnavailable`.

**Large bodies are folded in slices.** A request of more than ``slice_items`` items
(:meth:`PreparedRequest.sliced`) folds at most that many per group, each group its own
transaction, and is answered only after the group that folds its last slice committed; the
writer puts it back at the front of its queue between slices, so other requests' groups
commit in between and no request holds the writer for seconds. What makes this exact is a
*progress row*, the request's Idempotency-Key row (or, without a key, a key derived from
its path and record ids; with neither, nothing could recognise a retry, so a fresh one):
while slices remain it says ``status`` 102 and how many items and rows are folded, written
in the same transaction as the slice. A request whose key holds a progress row resumes from
there, so:

- a service killed between slices loses nothing and folds nothing twice: the agent's retry
  (same key or same record ids) resumes after the last committed slice;
- copies of one request in flight together (a retry that overtook a slow first attempt, in
  this process or another) read the progress under the deployment's lock and cooperate:
  each transaction folds the next slice, whichever copy it belongs to, and every copy is
  answered once the last one committed;
- for kinds with one item per record, each slice also stores its records' ids, so a retry
  merged differently (another key, a superset of the records) still drops exactly the items
  already folded; for the others (custom-metric buckets, actuals) the record ids are stored
  with the last slice, as for a request folded whole;
- a slice refused while folding (a value that cannot be binned) answers the request with
  its 422 and leaves the slices before it folded, with their record ids: the agent, which
  then sends the request's records one by one to find the bad one, finds those records
  known and folds none of them twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from spoolwatch.errors import InvalidRecord
from spoolwatch.server import schemas
from spoolwatch.server.group_plan import UNFINISHED, Outcome, Plan, plan_group
from spoolwatch.server.ingest_request import (
    IngestError,
    IngestKind,
    IngestResult,
    PreparedRequest,
)
from spoolwatch.store.base import Store, StoreUnavailable
from spoolwatch.store.ingest_log import IN_PROGRESS, StoredAnswer
from spoolwatch.store.ingest_transaction import IngestTransaction, ingest_transaction

__all__ = ["SLICE_ITEMS", "UNFINISHED", "Outcome", "fold_group"]

logger = logging.getLogger(__name__)

#: Items of one request folded per transaction at most (about 50 ms of folding).
SLICE_ITEMS = 2000

#: Kinds whose requests of one deployment are folded as one (their items joined).
_MERGEABLE = frozenset(
    {
        IngestKind.PREDICTION_REQUESTS,
        IngestKind.PREDICTION_INPUTS,
        IngestKind.ACTUALS,
        IngestKind.CUSTOM_METRIC,
    }
)


class _Refold(Exception):
    """Roll the attempt back: fold ``alone`` one by one, answer ``failed`` with their error."""

    def __init__(self, alone: set[int], failed: dict[int, BaseException]) -> None:
        super().__init__("refold")
        self.alone = alone
        self.failed = failed


def fold_group(
    store: Store, requests: Sequence[PreparedRequest], *, slice_items: int = SLICE_ITEMS
) -> list[Outcome]:
    """Fold ``requests`` in one transaction (see the module doc); one outcome per request:
    its answer, the error to answer with, or :data:`UNFINISHED` (fold it again)."""
    outcomes: dict[int, Outcome] = {}
    pending = list(range(len(requests)))
    alone: set[int] = set()
    while pending:
        try:
            pairs = [(i, requests[i]) for i in pending]
            outcomes.update(_attempt(store, pairs, alone, slice_items))
            break
        except _Refold as again:
            alone |= again.alone
            outcomes.update(again.failed)
            pending = [i for i in pending if i not in again.failed]
        except StoreUnavailable as exc:
            outcomes.update({i: exc for i in pending})
            break
    return [outcomes[i] for i in range(len(requests))]


def _attempt(
    store: Store, requests: list[tuple[int, PreparedRequest]], alone: set[int], slice_items: int
) -> dict[int, Outcome]:
    with ingest_transaction(store) as tx:
        tx.lock_deployments({r.lock_name for _, r in requests})
        answers = tx.stored_answers([r.answer_key for _, r in requests if r.answer_key])
        known = tx.known_record_ids([rid for _, r in requests for rid in r.record_ids])
        planned = plan_group(requests, answers, known, slice_items)
        _fold_plans(tx, planned.plans, alone)
        _remember(tx, planned.plans)
    outcomes = planned.decided
    for plan in planned.plans:
        assert plan.result is not None
        outcomes[plan.index] = plan.result if plan.finished else UNFINISHED
    for index, first in planned.echoes.items():
        outcomes[index] = _replay_of(outcomes[first])
    return outcomes


def _replay_of(outcome: Outcome) -> Outcome:
    if not isinstance(outcome, IngestResult):
        return outcome
    return IngestResult(outcome.status, outcome.body, location=outcome.location, duplicate=True)


def _merge_key(plan: Plan, alone: set[int]) -> tuple[Any, ...]:
    r = plan.request
    if r.kind not in _MERGEABLE or plan.index in alone:
        return ("alone", plan.index)
    return (
        r.kind,
        r.deployment_id,
        r.metric_id,
        r.raw.get("modelId") if r.kind is IngestKind.CUSTOM_METRIC else None,
        bool(r.raw.get("skipDriftTracking")),
        bool(r.raw.get("skipAccuracyTracking")),
    )


def _fold_plans(tx: IngestTransaction, plans: list[Plan], alone: set[int]) -> None:
    sets: dict[tuple[Any, ...], list[Plan]] = {}
    for plan in plans:
        sets.setdefault(_merge_key(plan, alone), []).append(plan)
    for members in sets.values():
        try:
            _fold_set(tx, members)
        except StoreUnavailable:
            raise
        except Exception as exc:  # the request (or set) is singled out below
            if len(members) > 1:
                raise _Refold({p.index for p in members}, {}) from exc
            raise _Refold(set(), {members[0].index: _as_answer(exc, members[0])}) from exc


def _as_answer(exc: Exception, plan: Plan) -> BaseException:
    if isinstance(exc, InvalidRecord):
        # Found while folding (the attempt is rolled back): name the field like a
        # validation error, at the item's position in the body as sent.
        parts = exc.field.split(".") if exc.field else []
        loc: list[str | int] = ["body", *(int(p) if p.isdigit() else p for p in parts)]
        message = str(exc)
        positions = plan.positions
        if positions is not None and len(loc) > 2 and isinstance(loc[2], int):
            if loc[2] < len(positions):
                loc[2] = positions[loc[2]]
            message = message.replace(exc.field or "", ".".join(map(str, loc[1:])), 1)
        return IngestError(422, [{"loc": loc, "msg": message, "type": "value_error"}])
    logger.error("folding a request failed", exc_info=exc)
    return exc


def _fold_set(tx: IngestTransaction, members: list[Plan]) -> None:
    """Fold requests of one deployment, kind and options as one request."""
    first = members[0].request
    if len(members) == 1:
        rows_each = [_fold(tx, first) if first.items else 0]
    else:
        joined = first.with_items([item for p in members for item in p.request.items])
        _fold(tx, joined)
        rows_each = [_rows_of(p.request) for p in members]
    for plan, rows in zip(members, rows_each, strict=True):
        plan.result = _answer(tx, plan, rows)


def _fold(tx: IngestTransaction, r: PreparedRequest) -> int:
    """Fold one request's items; return its rows."""
    if r.kind is IngestKind.REMOTE_EVENTS:
        tx.insert_event(r.raw)
        return 1
    deployment = r.deployment
    assert deployment is not None
    data = r.raw.get("data") or []
    if r.kind is IngestKind.PREDICTION_REQUESTS:
        return tx.fold_service_stats(deployment, data)
    if r.kind is IngestKind.PREDICTION_INPUTS:
        return tx.fold_prediction_inputs(
            deployment,
            data,
            skip_drift=bool(r.raw.get("skipDriftTracking")),
            skip_accuracy=bool(r.raw.get("skipAccuracyTracking")),
        )
    if r.kind is IngestKind.PREDICTION_STATS:
        return tx.fold_prediction_stats(deployment, data)
    if r.kind is IngestKind.ACTUALS:
        return tx.fold_actuals(deployment, data)
    assert r.metric_id is not None
    return tx.fold_custom_metric(deployment, r.metric_id, r.raw.get("modelId"), r.raw["buckets"])


def _rows_of(r: PreparedRequest) -> int:
    """The rows a request folds, as its own fold would count them (merged sets only)."""
    if r.kind is not IngestKind.PREDICTION_INPUTS:
        return len(r.items)
    rows = 0
    for item in r.items:
        features = item.get("features") or ()
        rows += len(features[0]["values"]) if features else len(item.get("predictions") or ())
    return rows


def _answer(tx: IngestTransaction, plan: Plan, rows: int) -> IngestResult:
    request = plan.request
    location = None
    if request.kind is IngestKind.ACTUALS and plan.finished:
        assert request.deployment is not None
        location = f"/api/v2/status/{tx.add_status_job(request.deployment.id)}/"
    rows += plan.rows_before
    return IngestResult(
        202,
        schemas.IngestAccepted(rows=rows).model_dump(),
        location=location,
        rows=rows,
        deployment_id=request.deployment_id,
        kind=request.kind,
    )


def _remember(tx: IngestTransaction, plans: list[Plan]) -> None:
    """Write the answers of keyed requests (the progress of sliced ones) and the ids of the
    records just folded."""
    answers: list[StoredAnswer] = []
    ids: dict[str | None, list[str]] = {}
    for plan in plans:
        r, result = plan.request, plan.result
        assert result is not None
        key = r.answer_key
        if key is not None:
            answer = StoredAnswer(key, r.path, result.status, result.body, result.location)
            if not plan.finished:
                progress = {"done": plan.done, "rows": result.rows}
                answer = StoredAnswer(key, r.path, IN_PROGRESS, progress, None)
            if plan.resumed:
                tx.update_answer(answer)
            else:
                answers.append(answer)
        if plan.new_ids:
            ids.setdefault(r.deployment_id, []).extend(plan.new_ids)
    tx.remember_answers(answers)
    tx.remember_record_ids(ids)
