"""DataRobot's asynchronous actuals upload: polling the job a 202 + ``Location`` points to.

Polled as DataRobot's own client does: 303 or a finished status means done; ``abort`` or
``error`` means the upload was refused (the records are quarantined with the job's answer);
still running after the wait, or a status URL that cannot be read, means the destination
has accepted the upload, so the records are acked and a warning says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urljoin

import httpx

from spoolwatch.sinks.base import Rejection
from spoolwatch.sinks.http.answers import answered

__all__ = ["await_actuals_job"]

logger = logging.getLogger(__name__)

_JOB_RUNNING = {"initialized", "running", "inqueue", "queued"}
_JOB_FAILED = {"abort", "aborted", "error", "failed"}


def _job_state(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return ""
    return str(doc.get("status", "")).lower() if isinstance(doc, dict) else ""


def await_actuals_job(
    client: httpx.Client,
    url: str,
    location: str,
    *,
    wait_seconds: float,
    poll_seconds: float,
    max_body_chars: int,
    request_id: Callable[[], dict[str, str]],
) -> Rejection | None:
    """Actuals are an asynchronous job (202 + ``Location``): poll it as DataRobot's own
    client does. 303 or a finished status: done. ``abort``/``error``: the upload was
    refused, so the records are quarantined with the job's answer. Still running after
    ``wait_seconds``, or a status URL that cannot be read: the destination has
    accepted the upload, so the records are acked (sending them again would not help)
    and a warning says so. ``request_id`` makes the ``X-Request-ID`` header of each poll."""
    status_url = urljoin(url, location)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            response = client.get(status_url, follow_redirects=False, headers=request_id())
        except httpx.HTTPError as exc:
            logger.warning(
                "actuals job %s: %s; taking the 202 as accepted", status_url, type(exc).__name__
            )
            return None
        if response.status_code == 303:
            return None
        state = _job_state(response)
        if response.status_code == 200 and state in _JOB_FAILED:
            body = response.text[:max_body_chars]
            return Rejection(
                f"actuals job {status_url} ended {state} ({answered(response)}): {body}",
                status=response.status_code,
                body=body,
                request_id=response.request.headers.get("X-Request-ID"),
            )
        running = response.status_code >= 500 or (
            response.status_code == 200 and state in _JOB_RUNNING
        )
        if not running:
            if response.status_code != 200:
                logger.warning(
                    "actuals job %s answered HTTP %s; taking the 202 as accepted",
                    status_url,
                    response.status_code,
                )
            return None
        if time.monotonic() + poll_seconds > deadline:
            logger.warning(
                "actuals job %s still %s after %.0f s; taking the 202 as accepted",
                status_url,
                state or "unknown",
                wait_seconds,
            )
            return None
        time.sleep(poll_seconds)
