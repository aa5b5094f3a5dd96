"""What a 401/403 from the destination means, as one message that says what to check.

The message names the request, the status, the destination's own reason (the ``detail`` of a
spoolwatch service's body, the ``message`` of DataRobot's; otherwise the start of the body),
bounded in length and with the credentials blanked out, then what to check: the token, where
it came from, and its scope. It never holds the token itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

__all__ = ["MAX_REASON_CHARS", "refusal_message", "service_reason"]

#: The destination's reason is cut to this many characters (a proxy may answer with a page).
MAX_REASON_CHARS = 300

_MAKE_INGEST_TOKEN = "spoolwatch tokens create --name NAME --scope ingest"


def service_reason(body: str, secrets: Iterable[str] = ()) -> str:
    """The destination's own reason for refusing, on one line, at most
    :data:`MAX_REASON_CHARS` characters, every one of ``secrets`` replaced by ``****``;
    ``""`` for an empty body."""
    reason = body
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        said = doc.get("detail", doc.get("message"))
        if isinstance(said, str):
            reason = said
        elif said is not None:
            reason = orjson.dumps(said).decode()
    for secret in secrets:
        if secret:
            reason = reason.replace(secret, "****")
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    return reason


def refusal_message(
    what: str,
    status: int,
    body: str,
    *,
    base: str,
    spoolwatch_target: bool,
    token_source: str | None,
    secrets: Iterable[str] = (),
) -> str:
    """``what`` (``POST <url>``) answered ``status`` with ``body``: the message for the log and
    the exit. ``token_source`` is where the token came from (``env:NAME``, ``file:PATH``;
    ``""`` when unknown), ``None`` when no credentials were configured."""
    reason = service_reason(body, secrets)
    said = f': the destination said "{reason}"' if reason else ""
    head = f"{what}: HTTP {status}{said}"
    if token_source is None:
        return (
            f"{head}; the destination {base} wants an API token and none is configured; set "
            "target.api_token_env or api_token_file (or SPOOLWATCH_API_TOKEN, or apiToken in "
            "DataRobot's config)"
        )
    token = f"the API token ({token_source})" if token_source else "the API token"
    if spoolwatch_target:
        scope = (
            f"that its scope is ingest or admin (make an agent's token with '{_MAKE_INGEST_TOKEN}')"
        )
    else:
        scope = "that it may write to the deployment named in the URL"
    return (
        f"{head}; the destination {base} refused the API token; check {token}: that it is a "
        f"token of this destination, not revoked, and {scope}"
    )
