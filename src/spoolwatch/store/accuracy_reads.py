"""Reading a deployment's accuracy from the Store: the hourly aggregates of a period with
the count of actuals still waiting for their predictions, and the reference rows.

The reads themselves live with what they read (:mod:`spoolwatch.store.accuracy_stored`,
:mod:`spoolwatch.store.accuracy_joined`), which the migrations use without a Store.
"""

from __future__ import annotations

from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.store.accuracy_joined import JoinedRows, reference_rows
from spoolwatch.store.accuracy_stored import load_accuracy, orphan_actuals
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment

__all__ = ["accuracy_hours", "reference_sample"]


def accuracy_hours(
    store: Store, deployment: Deployment, start: int, end: int, model_id: str | None
) -> tuple[list[tuple[int, AccuracyAggregate]], int]:
    """The (hour, aggregate) of every stored hour in [start, end) (of one model when given)
    and the deployment's count of actuals without predictions, read together."""
    with store.read() as conn:
        hours = load_accuracy(conn, deployment, start, end, model_id)
        orphans = orphan_actuals(conn, deployment)
    return hours, orphans


def reference_sample(store: Store, deployment: Deployment, limit: int) -> JoinedRows:
    """The usable rows among the deployment's first ``limit`` joined predictions."""
    with store.read() as conn:
        return reference_rows(conn, deployment, limit)
