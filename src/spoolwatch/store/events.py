"""A deployment's remote events (stored by :func:`spoolwatch.store.folding.insert_event`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from spoolwatch.store import schema
from spoolwatch.store.base import Store

__all__ = ["events_page"]


def events_page(
    store: Store,
    deployment_id: str,
    start: int,
    end: int,
    event_type: str | None,
    limit: int,
    offset: int,
) -> tuple[int, Sequence[Any]]:
    """How many events of the deployment (of that type) fall in ``[start, end)``, and the
    page of them from ``offset``, newest first."""
    t = schema.events
    where = [t.c.deployment_id == deployment_id, t.c.at >= start, t.c.at < end]
    if event_type:
        where.append(t.c.event_type == event_type)
    with store.read() as conn:
        count = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
        rows = conn.execute(
            select(t)
            .where(*where)
            .order_by(t.c.at.desc(), t.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return count, rows
