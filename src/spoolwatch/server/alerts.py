"""Alerts: a JSON webhook when a deployment's status turns yellow or red.

After data is folded, the deployment's service health and drift over the last
``alert_window_seconds`` are re-evaluated (at most every ``alert_check_seconds`` per
deployment, on one background thread). A yellow or red status is posted to ``webhook_url``
at most once per ``alert_period_seconds`` and status change: the last status sent is kept
per deployment, check and period (table ``alert_state``); a failed post is retried at the
next evaluation.

Webhook body::

    {"event": "deployment.status", "deploymentId": "...", "deploymentName": "...",
     "check": "service" | "drift" | "accuracy", "status": "yellow" | "red", "previousStatus": ...,
     "period": {"start": ..., "end": ...}, "summary": {...}, "sentAt": ...}
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from spoolwatch.logs import deployment_id as logged_deployment
from spoolwatch.monitoring.status import DriftStatus, worst_status
from spoolwatch.server.ingestion import IngestResult
from spoolwatch.server.outcomes import accuracy_report
from spoolwatch.server.periods import resolve_period
from spoolwatch.server.query import drift_report, service_stats, target_drift
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.alert_state import last_alert_status, remember_alert
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import get_deployment

__all__ = ["AlertNotifier"]

logger = logging.getLogger(__name__)

_ALERTING = {DriftStatus.YELLOW.value, DriftStatus.RED.value}


class AlertNotifier:
    """Evaluates deployment statuses after ingestion and posts webhooks (thread-safe)."""

    def __init__(
        self, store: Store, settings: ServerSettings, client: httpx.Client | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self._client = client
        self._last_check: dict[str, float] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    def consider(self, result: IngestResult) -> None:
        """Schedule an evaluation of the result's deployment if one is due."""
        if not self.settings.webhook_url or result.deployment_id is None:
            return
        now = time.monotonic()
        with self._lock:
            last = self._last_check.get(result.deployment_id)
            if last is not None and now - last < self.settings.alert_check_seconds:
                return
            self._last_check[result.deployment_id] = now
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts")
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._pool.submit(self._safe_evaluate, result.deployment_id))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for scheduled evaluations (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)

    def close(self) -> None:
        """Finish pending evaluations and stop the worker."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _safe_evaluate(self, deployment_id: str) -> None:
        # The evaluation's lines name its deployment (its thread serves every deployment).
        about = logged_deployment.set(deployment_id)
        try:
            self.evaluate(deployment_id)
        except Exception:  # an alerting failure must not affect ingestion
            logger.exception("alert evaluation failed for deployment %s", deployment_id)
        finally:
            logged_deployment.reset(about)

    def statuses(self, deployment: Deployment, now: float) -> dict[str, tuple[str, Any]]:
        """``{check: (status, summary)}`` for the window ending ``now``."""
        period = resolve_period(
            datetime.fromtimestamp(now - self.settings.alert_window_seconds, UTC),
            datetime.fromtimestamp(now, UTC),
            now=now,
        )
        service = service_stats(self.store, deployment, period, None, self.settings)
        features = drift_report(self.store, deployment, period, None, self.settings.drift_metric)
        target = target_drift(self.store, deployment, period, None, self.settings.drift_metric)
        drifting = [f["name"] for f in features["data"] if f["status"] in _ALERTING]
        drift = worst_status([DriftStatus(features["status"]), DriftStatus(target["status"])])
        accuracy = accuracy_report(self.store, deployment, period, None, self.settings)
        metric = accuracy["metrics"].get(accuracy["metric"]) or {}
        return {
            "service": (service["status"], service["metrics"]),
            "drift": (
                drift.value,
                {
                    "features": drifting,
                    "target": target["status"],
                    "targetDriftScore": target["driftScore"],
                },
            ),
            "accuracy": (
                accuracy["status"],
                {"metric": accuracy["metric"], "sampleSize": accuracy["sampleSize"], **metric},
            ),
        }

    def evaluate(self, deployment_id: str, *, now: float | None = None) -> list[dict[str, Any]]:
        """Evaluate one deployment now; post and return the alerts that were due."""
        now = time.time() if now is None else now
        deployment = get_deployment(self.store, deployment_id)
        if deployment is None or not self.settings.webhook_url:
            return []
        period = int(now // self.settings.alert_period_seconds)
        sent = []
        for check, (status, summary) in self.statuses(deployment, now).items():
            if status not in _ALERTING:
                continue
            previous = last_alert_status(self.store, deployment.id, check, period)
            if previous == status:
                continue
            payload = self._payload(deployment, check, status, previous, summary, period, now)
            if self._post(payload):
                remember_alert(self.store, deployment.id, check, period, status, now)
                sent.append(payload)
        return sent

    def _payload(
        self,
        deployment: Deployment,
        check: str,
        status: str,
        previous: str | None,
        summary: Any,
        period: int,
        now: float,
    ) -> dict[str, Any]:
        length = self.settings.alert_period_seconds
        return {
            "event": "deployment.status",
            "deploymentId": deployment.id,
            "deploymentName": deployment.name,
            "check": check,
            "status": status,
            "previousStatus": previous,
            "period": {"start": _iso(period * length), "end": _iso((period + 1) * length)},
            "summary": summary,
            "sentAt": _iso(now),
        }

    def _post(self, payload: dict[str, Any]) -> bool:
        url = self.settings.webhook_url
        assert url is not None
        try:
            client = self._client or httpx.Client(timeout=10.0)
            try:
                response = client.post(url, json=payload)
            finally:
                if self._client is None:
                    client.close()
        except httpx.HTTPError as exc:
            logger.warning("alert webhook failed: %s", type(exc).__name__)
            return False
        if response.status_code >= 300:
            logger.warning("alert webhook answered HTTP %s", response.status_code)
            return False
        logger.info(
            "alert sent: deployment %s %s is %s",
            payload["deploymentId"],
            payload["check"],
            payload["status"],
        )
        return True


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()
