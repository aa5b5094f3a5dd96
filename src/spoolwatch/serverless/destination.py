"""Is the destination up, and does it take the token? Asked before an agent takes any record
from the data queue.

Every receive of an SQS message counts towards the data queue's redrive limit (5 in the
template): an agent that took records while the destination is down, or while it refuses
the token, would push them, receive after receive, towards the dead-letter queue. So an agent
(and the breaker's probe) first asks one cheap question the agent's own sends would need to
get past, and takes records only when the destination answers it:

* a spoolwatch service is asked ``POST /api/v2/spoolwatch/records/known/`` about one made-up
  record id: a route of scope ``ingest`` (an ``admin`` token may call it too), so a token that
  may only read is refused here, with the service's reason, instead of at the first send;
* DataRobot is asked ``GET /api/v2/version/``, the call its own clients start with, which any
  valid token may make (whether the token may write to the deployment shows at the first
  send).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson

from spoolwatch.scaling import FailureKind
from spoolwatch.sinks.config import TargetConfig
from spoolwatch.sinks.http import KNOWN_RECORDS_PATH, PROBE_RECORD_ID, api_base
from spoolwatch.sinks.refusal import refusal_message

__all__ = ["DestinationProblem", "check_destination"]


@dataclass(frozen=True, slots=True)
class DestinationProblem:
    """Why the destination is not ready, as the breaker counts it."""

    kind: FailureKind
    reason: str


def check_destination(target: TargetConfig, timeout: float = 5.0) -> DestinationProblem | None:
    """``None`` when the destination answers; else what is wrong (never the token)."""
    base = api_base(target.url)
    headers = {"User-Agent": "spoolwatch-agent"}
    if target.api_token is not None:
        headers["Authorization"] = f"Bearer {target.api_token.reveal()}"
    if target.kind == "spoolwatch":
        method, url = "POST", base + KNOWN_RECORDS_PATH
        body: bytes | None = orjson.dumps({"recordIds": [PROBE_RECORD_ID]})
        headers["Content-Type"] = "application/json"
    else:
        method, url, body = "GET", base + "version/", None
    asked = f"{method} {url}"
    try:
        response = httpx.request(
            method, url, content=body, headers=headers, timeout=timeout, verify=target.verify_ssl
        )
    except httpx.TimeoutException:
        return DestinationProblem(FailureKind.DESTINATION_UNREACHABLE, f"{asked}: timed out")
    except httpx.HTTPError as exc:
        return DestinationProblem(
            FailureKind.DESTINATION_UNREACHABLE, f"{asked}: {type(exc).__name__}"
        )
    status = response.status_code
    if status in (401, 403):
        token = target.api_token
        return DestinationProblem(
            FailureKind.AUTH_ERROR,
            refusal_message(
                asked,
                status,
                response.text[:2000],
                base=base,
                spoolwatch_target=target.kind == "spoolwatch",
                token_source=None if token is None else token.source,
                secrets=() if token is None else (token.reveal(),),
            ),
        )
    if status == 429:
        return DestinationProblem(FailureKind.THROTTLED, f"{asked}: HTTP 429")
    if status >= 500:
        return DestinationProblem(FailureKind.SERVER_ERROR, f"{asked}: HTTP {status}")
    return None
