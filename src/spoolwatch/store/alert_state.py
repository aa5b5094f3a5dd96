"""Which alerts were sent: the status of each deployment's check per alert period."""

from __future__ import annotations

from sqlalchemy import select

from spoolwatch.store import schema
from spoolwatch.store.base import Store
from spoolwatch.store.upsert import upsert

__all__ = ["last_alert_status", "remember_alert"]


def last_alert_status(store: Store, deployment_id: str, check: str, period: int) -> str | None:
    """The status last alerted for the deployment's check in the period, or ``None``."""
    t = schema.alert_state
    with store.read() as conn:
        row = conn.execute(
            select(t.c.status).where(
                t.c.deployment_id == deployment_id,
                t.c.check_name == check,
                t.c.period == period,
            )
        ).first()
    return row[0] if row else None


def remember_alert(
    store: Store, deployment_id: str, check: str, period: int, status: str, sent_at: float
) -> None:
    """Keep ``status`` as the one alerted for the deployment's check in the period."""
    with store.write() as conn:
        upsert(
            conn,
            schema.alert_state,
            [
                {
                    "deployment_id": deployment_id,
                    "check_name": check,
                    "period": period,
                    "status": status,
                    "sent_at": sent_at,
                }
            ],
            replace=("status", "sent_at"),
        )
