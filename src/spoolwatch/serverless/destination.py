"""Is the destination up? Asked before an agent takes any record from the data queue.

Every receive of an SQS message counts towards the data queue's redrive limit (5 in the
template): an agent that took records while the destination is down would push them,
receive after receive, towards the dead-letter queue. So an agent (and the breaker's probe)
first asks ``GET /api/v2/version/`` — the call DataRobot's own clients start with — and
takes records only when the destination answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from spoolwatch.agent.config import TargetConfig
from spoolwatch.scaling import FailureKind
from spoolwatch.sinks.http import api_base

__all__ = ["DestinationProblem", "check_destination"]


@dataclass(frozen=True, slots=True)
class DestinationProblem:
    """Why the destination is not ready, as the breaker counts it."""

    kind: FailureKind
    reason: str


def check_destination(target: TargetConfig, timeout: float = 5.0) -> DestinationProblem | None:
    """``None`` when the destination answers; else what is wrong (never the token)."""
    url = api_base(target.url) + "version/"
    headers = {"User-Agent": "spoolwatch-agent"}
    if target.api_token is not None:
        headers["Authorization"] = f"Bearer {target.api_token.reveal()}"
    try:
        response = httpx.get(url, headers=headers, timeout=timeout, verify=target.verify_ssl)
    except httpx.TimeoutException:
        return DestinationProblem(FailureKind.DESTINATION_UNREACHABLE, f"GET {url}: timed out")
    except httpx.HTTPError as exc:
        return DestinationProblem(
            FailureKind.DESTINATION_UNREACHABLE, f"GET {url}: {type(exc).__name__}"
        )
    status = response.status_code
    if status in (401, 403):
        return DestinationProblem(
            FailureKind.AUTH_ERROR,
            f"GET {url}: HTTP {status}: the destination refused the API token; check the "
            "secret SPOOLWATCH_API_TOKEN_SECRET names (a token of this destination, not "
            "revoked)",
        )
    if status == 429:
        return DestinationProblem(FailureKind.THROTTLED, f"GET {url}: HTTP 429")
    if status >= 500:
        return DestinationProblem(FailureKind.SERVER_ERROR, f"GET {url}: HTTP {status}")
    return None
