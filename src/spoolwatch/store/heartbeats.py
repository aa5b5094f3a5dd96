"""The agents' heartbeats: each agent's latest state, kept for a day."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select

from spoolwatch.store import schema
from spoolwatch.store.base import Store
from spoolwatch.store.upsert import upsert

__all__ = ["KEEP_SECONDS", "latest_heartbeats", "store_heartbeat"]

#: Heartbeats older than this are deleted when another arrives.
KEEP_SECONDS = 24 * 3600


def store_heartbeat(store: Store, agent_id: str, body: str, now: float) -> None:
    """Keep ``body`` (JSON) as the agent's latest heartbeat; forget those older than a day."""
    with store.write() as conn:
        upsert(
            conn,
            schema.agent_heartbeats,
            [{"agent_id": agent_id, "received_at": now, "body": body}],
            replace=("received_at", "body"),
        )
        conn.execute(
            delete(schema.agent_heartbeats).where(
                schema.agent_heartbeats.c.received_at < now - KEEP_SECONDS
            )
        )


def latest_heartbeats(store: Store) -> Sequence[Any]:
    """Every agent's latest heartbeat row (``agent_id``, ``received_at``, ``body``), newest
    first."""
    with store.read() as conn:
        return conn.execute(
            select(schema.agent_heartbeats).order_by(schema.agent_heartbeats.c.received_at.desc())
        ).all()
