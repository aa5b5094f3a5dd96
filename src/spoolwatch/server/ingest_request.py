"""One ingestion request, checked and ready to fold: :class:`PreparedRequest`.

Everything that can be refused without the database happens here (lengths of headers, JSON,
NUL characters, the body's schema), so a bad request is answered before it joins a group
commit and never costs its neighbours anything.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from spoolwatch.server import schemas
from spoolwatch.server.body_check import certainly_valid
from spoolwatch.store.deployment import Deployment

__all__ = ["IngestError", "IngestKind", "IngestResult", "PreparedRequest", "parse_body"]


class IngestKind(StrEnum):
    """The ingestion endpoints, named by their DataRobot path segment."""

    PREDICTION_REQUESTS = "predictionRequests"
    PREDICTION_INPUTS = "predictionInputs"
    PREDICTION_STATS = "predictionStats"
    ACTUALS = "actuals"
    CUSTOM_METRIC = "customMetrics"
    REMOTE_EVENTS = "remoteEvents"


MODELS: dict[IngestKind, type[BaseModel]] = {
    IngestKind.PREDICTION_REQUESTS: schemas.PredictionRequestsBody,
    IngestKind.PREDICTION_INPUTS: schemas.PredictionInputsBody,
    IngestKind.PREDICTION_STATS: schemas.PredictionStatsBody,
    IngestKind.ACTUALS: schemas.ActualsBody,
    IngestKind.CUSTOM_METRIC: schemas.CustomMetricBody,
    IngestKind.REMOTE_EVENTS: schemas.RemoteEventBody,
}

#: Kinds whose body holds one ``data`` item per record, in the order of the record ids.
ONE_ITEM_PER_RECORD = frozenset(
    {IngestKind.PREDICTION_REQUESTS, IngestKind.PREDICTION_INPUTS, IngestKind.PREDICTION_STATS}
)


class IngestError(Exception):
    """The request cannot be ingested: ``status`` 404 (unknown deployment) or 422 (invalid)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The answer to an ingestion request: 202 with a JSON body (and ``Location`` for
    actuals). ``duplicate`` is true when nothing was folded because it was a repeat."""

    status: int
    body: dict[str, Any]
    location: str | None = None
    duplicate: bool = False
    rows: int = 0
    deployment_id: str | None = None
    kind: IngestKind | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A validated request: its kind, deployment, parsed body and dedupe keys.

    ``path`` names the request for its Idempotency-Key (a key reused for another path is
    refused); ``items`` lists the body's foldable items (``data`` or ``buckets``).
    """

    kind: IngestKind
    deployment: Deployment | None
    raw: dict[str, Any]
    metric_id: str | None = None
    key: str | None = None
    record_ids: tuple[str, ...] = ()
    #: Set when the request is folded in slices: the key of its progress row (its
    #: Idempotency-Key, or one derived from its record ids, or a fresh one).
    progress_key: str | None = None
    #: Items of the body's list each record put there (``X-Spoolwatch-Record-Items``).
    record_items: tuple[int, ...] = ()

    @property
    def answer_key(self) -> str | None:
        """The key its answer (or slice progress) is stored under, if any."""
        return self.key or self.progress_key

    @property
    def deployment_id(self) -> str | None:
        """The deployment's id (``None`` for an event without one)."""
        return self.deployment.id if self.deployment is not None else None

    @property
    def lock_name(self) -> str:
        """The name of the advisory lock that serialises this request's writers."""
        return self.deployment.id if self.deployment is not None else "-events-"

    @property
    def path(self) -> str:
        """What an Idempotency-Key is bound to: deployment, kind and metric."""
        return f"{self.deployment_id or '-'}/{self.kind.value}/{self.metric_id or ''}"

    @property
    def items_field(self) -> str | None:
        """The body field holding the foldable items (``None`` for an event)."""
        if self.kind is IngestKind.REMOTE_EVENTS:
            return None
        return "buckets" if self.kind is IngestKind.CUSTOM_METRIC else "data"

    @property
    def items(self) -> list[Any]:
        """The body's foldable items (an event is one item); not a copy."""
        name = self.items_field
        if name is None:
            return [self.raw]
        items: list[Any] = self.raw.get(name) or []
        return items

    def with_items(self, items: Sequence[Any]) -> PreparedRequest:
        """This request with only ``items`` (a slice, or the items of new records)."""
        name = self.items_field
        assert name is not None
        return replace(self, raw={**self.raw, name: list(items)})

    def sliced(self, slice_items: int) -> PreparedRequest:
        """This request marked to be folded ``slice_items`` at a time (see
        :mod:`spoolwatch.server.group_commit`), with the key of its progress row."""
        if len(self.items) <= slice_items or self.kind is IngestKind.REMOTE_EVENTS:
            return self
        if self.key is not None:
            progress = self.key
        elif self.record_ids:
            digest = hashlib.sha256("\n".join((self.path, *self.record_ids)).encode())
            progress = "~slices:" + digest.hexdigest()
        else:  # nothing can recognise a retry of it: its progress is its own
            progress = "~slices:" + uuid.uuid4().hex
        return replace(self, progress_key=progress)

    def items_by_record(self) -> bool:
        """Whether each item is known to come from one of the records, in order."""
        return self.item_records() is not None

    def item_records(self) -> list[int] | None:
        """For each item, the index of its record in :attr:`record_ids`; ``None`` when that is
        not known (no record ids, or a body whose items the ids cannot be matched with).

        One item per record for stats, predictions and aggregates; otherwise the counts of
        ``X-Spoolwatch-Record-Items`` say which items are whose. A request folded in slices
        uses the counts only when every record has one item (a record across two slices
        would look already ingested in the second)."""
        if not self.record_ids or self.kind is IngestKind.REMOTE_EVENTS:
            return None
        total = len(self.items)
        counts = self.record_items
        if counts and (self.progress_key is None or set(counts) == {1}):
            return [index for index, count in enumerate(counts) for _ in range(count)]
        if self.kind in ONE_ITEM_PER_RECORD and total == len(self.record_ids):
            return list(range(total))
        return None


def invalid(exc: ValidationError) -> IngestError:
    """A 422 naming each field of a failed validation."""
    errors = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return IngestError(422, errors)


def parse_body(body: bytes | Mapping[str, Any]) -> dict[str, Any]:
    """The body as a JSON object, or a 422 saying why it is not one."""
    if isinstance(body, Mapping):
        return dict(body)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise IngestError(
            422, [{"loc": ["body"], "msg": f"invalid JSON: {exc}", "type": "json_invalid"}]
        ) from None
    if not isinstance(parsed, dict):
        raise IngestError(
            422,
            [{"loc": ["body"], "msg": "the body must be a JSON object", "type": "dict_type"}],
        )
    # NUL arrives only as the \u0000 escape; the walk runs only when one is present.
    found = schemas.nul_field(parsed) if b"\\u0000" in body else None
    if found is not None:
        msg = f"{'.'.join(map(str, found))}: {schemas.NUL_MESSAGE}"
        raise IngestError(422, [{"loc": ["body", *found], "msg": msg, "type": "value_error"}])
    return parsed


def validate_body(kind: IngestKind, raw: dict[str, Any]) -> None:
    """Check ``raw`` against the kind's schema; a 422 names the fields that fail."""
    if certainly_valid(kind, raw):  # plain bodies of exact types: no need to build models
        return
    try:
        MODELS[kind].model_validate(raw)
    except ValidationError as exc:
        raise invalid(exc) from None


def _too_long(loc: list[str], limit: int) -> IngestError:
    msg = f"at most {limit} characters"
    return IngestError(422, [{"loc": loc, "msg": msg, "type": "string_too_long"}])


def check_lengths(key: str | None, record_ids: Sequence[str], metric_id: str | None) -> None:
    """Refuse what the store's columns cannot hold (PostgreSQL would fail the transaction)."""
    if key is not None and len(key) > 200:
        raise _too_long(["header", "Idempotency-Key"], 200)
    if any(len(r) > 200 for r in record_ids):
        raise _too_long(["header", "X-Spoolwatch-Record-Ids"], 200)
    if metric_id is not None and len(metric_id) > schemas.MODEL_ID_MAX:
        raise _too_long(["path", "metric_id"], schemas.MODEL_ID_MAX)


def check_record_items(request: PreparedRequest) -> None:
    """Refuse ``X-Spoolwatch-Record-Items`` that does not fit the record ids and the body."""
    counts = request.record_items
    if not counts:
        return
    problem = None
    if len(counts) != len(request.record_ids):
        problem = f"{len(counts)} counts for {len(request.record_ids)} record ids"
    elif any(count < 1 for count in counts):
        problem = "every record puts at least one item into the body"
    elif sum(counts) != len(request.items):
        problem = f"the counts add up to {sum(counts)}, the body has {len(request.items)} items"
    if problem is not None:
        loc = ["header", "X-Spoolwatch-Record-Items"]
        raise IngestError(422, [{"loc": loc, "msg": problem, "type": "value_error"}])


def conflict() -> IngestError:
    """The 422 for an Idempotency-Key reused for a different request."""
    return IngestError(
        422,
        [
            {
                "loc": ["header", "Idempotency-Key"],
                "msg": "this key was used for a different request",
                "type": "idempotency_conflict",
            }
        ],
    )
