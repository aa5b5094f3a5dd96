"""The HTTP sink's conventions for addresses and requests, and reading the answers.

The base URL is used as DataRobot's library does (spec §5.1): ``/api/v2`` is removed from
it, the trailing ``/`` stripped, then ``/api/v2/<path>`` appended. Every request carries a
new ``X-Request-ID`` (``<agent id>-<12 hex digits>``), and a message about an answer names
it, with the destination's own id when it answered with another. ``Retry-After`` is read as
seconds or as an HTTP date.
"""

from __future__ import annotations

import email.utils
import re
import time

import httpx

__all__ = [
    "AUTH_STATUSES",
    "HEARTBEAT_PATH",
    "KNOWN_RECORDS_PATH",
    "PROBE_RECORD_ID",
    "answered",
    "api_base",
    "naming",
    "request_id_prefix",
    "retry_after",
    "split_userinfo",
]

HEARTBEAT_PATH = "spoolwatch/agents/heartbeat/"
KNOWN_RECORDS_PATH = "spoolwatch/records/known/"
#: The statuses of a refusal of the credentials: the agent stops, the records stay.
AUTH_STATUSES = {401, 403}
#: The record id the credentials check and the probe ask about (never a real one).
PROBE_RECORD_ID = "spoolwatch-agent-probe"
#: What a request id may hold (the service ignores an id with anything else).
_NOT_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:-]+")


def api_base(url: str) -> str:
    """``https://host/api/v2`` or ``https://host/`` → ``https://host/api/v2/``."""
    return url.replace("/api/v2", "").rstrip("/") + "/api/v2/"


def split_userinfo(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """``url`` without ``user:password@`` and the Basic auth it stood for (if any)."""
    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return url, None
    auth = httpx.BasicAuth(parsed.username, parsed.password)
    return str(parsed.copy_with(username=None, password=None)), auth


def request_id_prefix(agent_id: str) -> str:
    """``agent_id`` as the start of a request id: other characters become ``-``, at most 64
    characters kept (``agent`` when nothing is left)."""
    return _NOT_IN_REQUEST_ID.sub("-", agent_id)[:64].strip("-") or "agent"


def naming(request_id: str, response: httpx.Response | None = None) -> str:
    """``request id X``, and the destination's own id for it when that differs."""
    echoed = response.headers.get("X-Request-ID") if response is not None else None
    if echoed and echoed != request_id:
        return f"request id {request_id}, answered as {echoed[:128]}"
    return f"request id {request_id}"


def answered(response: httpx.Response) -> str:
    """:func:`naming` for the request ``response`` answers."""
    return naming(response.request.headers.get("X-Request-ID", "?"), response)


def retry_after(response: httpx.Response) -> float | None:
    """The answer's ``Retry-After`` in seconds from now; ``None`` when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # neither seconds nor a date: back off as usual
    return max(0.0, parsed.timestamp() - time.time())
