"""What the HTTP sink asks the destination besides sending: heartbeats, the probe, and
which redelivered records it already has.

The probe (:meth:`~spoolwatch.sinks.http.HttpSink.answers`, and
:meth:`~spoolwatch.sinks.http.HttpSink.check_credentials` at start-up) is one cheap
authenticated request, never made on the hot path: a spoolwatch target is asked
``POST spoolwatch/records/known/`` about one made-up id (a read of the store the records go
to, which an ingest-only token may make); a DataRobot target is asked ``GET version/``,
which shows that the token is valid but not what it may write to (a deployment the token
cannot write to shows at the first send, as a 403).

Redelivered records (see :meth:`~spoolwatch.sinks.base.Sink.known_record_ids`): a spoolwatch
target is asked which of them it already has (``POST spoolwatch/records/known/``, 1,000 ids a
request); DataRobot has no such question, so a datarobot target is never asked. Any failure
to answer (an older service's 404 included) means none known: the records are sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import orjson

from spoolwatch.sinks.http.answers import (
    AUTH_STATUSES,
    HEARTBEAT_PATH,
    KNOWN_RECORDS_PATH,
    PROBE_RECORD_ID,
    answered,
    naming,
)

__all__ = ["DestinationQuestions"]

logger = logging.getLogger(__name__)

#: Record ids per known-records question at most (the service refuses more).
_KNOWN_RECORDS_CHUNK = 1000


class DestinationQuestions:
    """The HTTP sink's questions to its destination; see the module docstring.

    Shares the sink's client; ``request_id`` makes a request's ``X-Request-ID`` header and
    ``refused`` words an auth answer (``what``, status, body) without the token.
    """

    def __init__(
        self,
        client: httpx.Client,
        base: str,
        *,
        asks_known: bool,
        probe_timeout: float,
        max_body_chars: int,
        request_id: Callable[[], dict[str, str]],
        refused: Callable[[str, int, str], str],
    ) -> None:
        self._client = client
        self._base = base
        self._asks_known = asks_known
        # A probe that waits long says nothing a send would not: the records wait either way.
        self._probe_timeout = probe_timeout
        self._max_body_chars = max_body_chars
        self._request_id = request_id
        self._refused = refused
        self._known_unanswered = False

    def heartbeat(self, status: dict[str, Any]) -> bool:
        """Post a heartbeat; False (disable) on 404/405, True otherwise (even on errors)."""
        try:
            response = self._client.post(
                self._base + HEARTBEAT_PATH,
                content=orjson.dumps(status),
                headers=self._request_id(),
            )
        except httpx.HTTPError as exc:
            logger.debug("heartbeat failed: %s", type(exc).__name__)
            return True
        if response.status_code in {404, 405}:
            logger.info(
                "the destination takes no heartbeats (HTTP %s); not sending more",
                response.status_code,
            )
            return False
        return True

    def _probe(self) -> tuple[str, httpx.Response | None, str]:
        """One cheap authenticated request: a spoolwatch target is asked about one made-up
        record id (a read of the store the records go to, allowed to an ingest-only
        token); DataRobot, which has no such question, for its version (the call its own
        clients start with). Returns what was asked, the answer, and why there is none (with
        the request id)."""
        if self._asks_known:
            method, url = "POST", self._base + KNOWN_RECORDS_PATH
            body: bytes | None = orjson.dumps({"recordIds": [PROBE_RECORD_ID]})
        else:
            method, url, body = "GET", self._base + "version/", None
        headers = self._request_id()
        try:
            answer = self._client.request(
                method, url, content=body, headers=headers, timeout=self._probe_timeout
            )
        except httpx.HTTPError as exc:
            why = f"{type(exc).__name__} ({naming(headers['X-Request-ID'])})"
            return f"{method} {url}", None, why
        return f"{method} {url}", answer, ""

    def answers(self) -> bool:
        """Whether the probe gets an answer other than 5xx or 429."""
        what, response, why = self._probe()
        if response is None:
            logger.info("%s: %s; the destination is not answering", what, why)
            return False
        status = response.status_code
        logger.info("%s: HTTP %s (%s)", what, status, answered(response))
        return status < 500 and status != 429

    def check_credentials(self) -> str | None:
        """The probe's 401/403 as a message; any other answer, or none, passes."""
        what, response, why = self._probe()
        if response is None:
            logger.info("%s: %s; the API token is checked by the first send", what, why)
            return None
        if response.status_code in AUTH_STATUSES:
            body = response.text[: self._max_body_chars]
            return f"{self._refused(what, response.status_code, body)} ({answered(response)})"
        return None

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        """Ask a spoolwatch target which of ``ids`` it has; the empty set on any failure."""
        unique = list(dict.fromkeys(ids))
        if not self._asks_known or not unique:
            return set()
        known: set[str] = set()
        for start in range(0, len(unique), _KNOWN_RECORDS_CHUNK):
            answer = self._ask_known(unique[start : start + _KNOWN_RECORDS_CHUNK])
            if answer is None:
                return set()
            known |= answer
        return known

    def _ask_known(self, chunk: list[str]) -> set[str] | None:
        """The known ids of ``chunk``, or ``None`` (logged) when the target cannot say."""
        url = self._base + KNOWN_RECORDS_PATH
        try:
            response = self._client.post(
                url, content=orjson.dumps({"recordIds": chunk}), headers=self._request_id()
            )
        except httpx.HTTPError as exc:
            self._unanswered(url, type(exc).__name__)
            return None
        known = None
        if response.status_code == 200:
            try:
                doc = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                doc = None
            known = doc.get("known") if isinstance(doc, dict) else None
        if not isinstance(known, list):
            self._unanswered(
                url,
                f"HTTP {response.status_code} without a list of known ids ({answered(response)})",
            )
            return None
        # Only ids that were asked: an id acked on a wrong answer would be lost.
        return {item for item in known if isinstance(item, str)} & set(chunk)

    def _unanswered(self, url: str, why: str) -> None:
        log = logger.debug if self._known_unanswered else logger.info
        self._known_unanswered = True
        log("POST %s: %s; redelivered records are sent again", url, why)
