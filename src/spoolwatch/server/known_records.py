"""Which records the service already has: ``POST /api/v2/spoolwatch/records/known/``.

An agent that reads records its spool hands out again (a previous agent crashed between
sending them and acking them) asks here before sending; the ids the service already
ingested are acked without a second delivery. Read-only: the answer comes from the same
record-id table that ingestion dedupes with (:mod:`spoolwatch.store.record_ids`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from spoolwatch.server.auth import require_ingest
from spoolwatch.server.ingestion import Ingestor
from spoolwatch.server.limits import NUL_MESSAGE

__all__ = [
    "KNOWN_RECORDS_MAX",
    "RECORD_ID_MAX",
    "KnownRecordsQuery",
    "KnownRecordsResponse",
    "router",
]

router = APIRouter(
    prefix="/api/v2/spoolwatch", dependencies=[Depends(require_ingest)], tags=["ingestion"]
)

#: Record ids per question at most.
KNOWN_RECORDS_MAX = 1000
#: The record-id column's width (ingestion refuses longer ids too).
RECORD_ID_MAX = 200


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it on every backend.
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


RecordId = Annotated[str, Field(min_length=1, max_length=RECORD_ID_MAX), AfterValidator(_no_nul)]


class KnownRecordsQuery(BaseModel):
    """The body: record ids as the agent sends them in ``X-Spoolwatch-Record-Ids``."""

    # Unknown fields are ignored, as in the other bodies.
    model_config = ConfigDict(extra="ignore")

    recordIds: list[RecordId] = Field(min_length=1, max_length=KNOWN_RECORDS_MAX)


class KnownRecordsResponse(BaseModel):
    """The asked ids the service has already ingested (into any deployment), in the order
    asked, without repeats; every other id is unknown to it."""

    known: list[str]


@router.post(
    "/records/known/",
    response_model=KnownRecordsResponse,
    summary="Which of these records the service already has",
    responses={
        401: {"description": "missing, malformed or invalid token"},
        422: {"description": "invalid body; `detail[].loc` names the field"},
        503: {"description": "the database is unavailable; retry later"},
    },
)
def known_records(request: Request, query: KnownRecordsQuery) -> dict[str, Any]:
    """The ids among ``recordIds`` that were ingested before (and not yet pruned: ids are
    kept as long as the longest spool retention). Changes nothing."""
    ingestor: Ingestor = request.app.state.ingestor
    asked = list(dict.fromkeys(query.recordIds))
    known = ingestor.known_record_ids(asked)
    return {"known": [record_id for record_id in asked if record_id in known]}
