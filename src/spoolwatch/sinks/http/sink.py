"""The HTTP sink: DataRobot's ingestion REST API, spoken to our service or to DataRobot.

One pooled keep-alive ``httpx.Client`` shared by every channel reader (HTTP/2 where the
target negotiates it over TLS and the ``h2`` package is installed). A batch's records are
merged by destination (:func:`~spoolwatch.sinks.rest_requests.merge_pieces`) and its requests
posted up to ``batching.max_in_flight`` at a time (a bound for the whole sink, shared by the
channels). Each POST carries ``Authorization: Bearer <token>``,
``Content-Type: application/json``, ``Idempotency-Key`` (derived from the record ids, see
:func:`spoolwatch.sinks.rest_requests.idempotency_key`), ``X-Spoolwatch-Record-Ids`` (the ids of
the records in the request, comma-separated, in body order) and
``X-Spoolwatch-Record-Items`` (how many items of the body's list each record put there) and
``X-Request-ID``, new for every request and attempt (``<agent id>-<12 hex digits>``): a
failure's message names it (``request id ...``) and, when the destination answered with
another id in its own ``X-Request-ID``, that one too, so the request can be found in the
service's logs (DataRobot ignores the header). After a transient failure no further request
of the batch is started; those in flight finish, and what they delivered counts.

Answers: 2xx accepted. 5xx, 408, 429 (``Retry-After`` honoured), redirects and connection
errors or timeouts are transient: the records stay in the spool and the agent retries with
back-off (a redirect means a wrong target URL, not bad records). A 5xx carries its status
and the start of its body, so that when it repeats while the destination answers
otherwise (:meth:`HttpSink.answers`, the probe) the agent can narrow it down to the
records that fail alone and quarantine those with that answer (see
:mod:`spoolwatch.agent.channel`). 401/403 are ``auth`` failures: the message names the
target, carries the destination's own reason (see :mod:`spoolwatch.sinks.refusal`) and says
what to check (the token, its scope), the agent stops the channel and the
records stay in the spool, never quarantined. Any other 4xx rejects the request; a merged
request is then retried record by record so only the bad record is quarantined, with the
status and the start of the response body.

The questions besides sending (heartbeats, the probe, known record ids) are in
:mod:`spoolwatch.sinks.http.questions`, the polling of DataRobot's actuals jobs in
:mod:`spoolwatch.sinks.http.actuals`, the URL and request-id conventions and the reading of
answers in :mod:`spoolwatch.sinks.http.answers`.
"""

from __future__ import annotations

import importlib.util
import logging
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from spoolwatch.errors import DestinationUnavailable, InvalidRecord
from spoolwatch.records import Record
from spoolwatch.sinks.base import Rejection, SendResult, Sink
from spoolwatch.sinks.config import BatchingConfig, TargetConfig
from spoolwatch.sinks.http.actuals import await_actuals_job
from spoolwatch.sinks.http.answers import (
    AUTH_STATUSES,
    api_base,
    naming,
    request_id_prefix,
    retry_after,
    split_userinfo,
)
from spoolwatch.sinks.http.questions import DestinationQuestions
from spoolwatch.sinks.refusal import refusal_message
from spoolwatch.sinks.rest_requests import Piece, Request, convert_record, merge_pieces
from spoolwatch.version import __version__

__all__ = ["MAX_RECORDS_PER_REQUEST", "HttpSink"]

logger = logging.getLogger(__name__)

#: Records per request at most, whatever the config says: their ids travel in one header
#: (about 37 bytes each), and servers commonly refuse header blocks above 8-16 KiB.
MAX_RECORDS_PER_REQUEST = 200
_TRANSIENT_4XX = {408, 429}


class HttpSink(Sink):
    """Posts records to the DataRobot REST paths; see the module docstring for the rules."""

    kind = "http"

    def __init__(
        self,
        target: TargetConfig,
        batching: BatchingConfig | None = None,
        *,
        max_body_chars: int = 2000,
        client: httpx.Client | None = None,
        actuals_wait_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        agent_id: str = "agent",
    ) -> None:
        # Credentials in the URL travel as Basic auth (as httpx would send them) but stay out
        # of the URL, so neither httpx's request log nor our messages can show the password.
        base, auth = split_userinfo(api_base(target.url))
        self._base = base
        self._id_prefix = request_id_prefix(agent_id)
        self._actuals_wait = actuals_wait_seconds
        self._poll_seconds = poll_seconds
        self._batching = batching or BatchingConfig()
        self._max_body_chars = max_body_chars
        self._asks_known = target.kind == "spoolwatch"
        # Where the credentials came from, for the auth message (None: there are none), and
        # what that message must blank out should the destination echo it.
        self._token_source: str | None = None
        self._secrets: tuple[str, ...] = ()
        if target.api_token is not None:
            self._token_source = target.api_token.source
            self._secrets = (target.api_token.reveal(),)
        elif auth is not None:
            self._token_source = "the target URL's user:password"
            self._secrets = (httpx.URL(api_base(target.url)).password or "",)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"spoolwatch-agent/{__version__}",
        }
        if target.api_token is not None:
            headers["Authorization"] = f"Bearer {target.api_token.reveal()}"
        self._client = client or httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(
                target.timeout_seconds, connect=min(10.0, target.timeout_seconds)
            ),
            verify=target.verify_ssl,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            # Negotiated over TLS (ALPN) only, so a plain-HTTP or HTTP/1.1 target is unaffected.
            http2=importlib.util.find_spec("h2") is not None,
        )
        if client is not None:
            client.headers.update(headers)
        if auth is not None:
            self._client.auth = auth
        self._in_flight = max(1, self._batching.max_in_flight)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._questions = DestinationQuestions(
            self._client,
            base,
            asks_known=self._asks_known,
            probe_timeout=min(5.0, target.timeout_seconds),
            max_body_chars=max_body_chars,
            request_id=self._request_id,
            refused=self._refused,
        )

    def __repr__(self) -> str:
        return f"HttpSink({self._base!r})"

    @property
    def base_url(self) -> str:
        """Where requests go (``…/api/v2/``)."""
        return self._base

    def pieces(self, records: Sequence[Record], result: SendResult) -> list[tuple[int, Piece]]:
        """Convert records; those that cannot be converted are rejected in ``result``."""
        pieces = []
        for index, record in enumerate(records):
            try:
                pieces.append((index, convert_record(record)))
            except InvalidRecord as exc:
                result.rejected[index] = Rejection(f"cannot convert: {exc}")
            except Exception as exc:  # a payload shape no converter expects is this record's fault
                logger.debug("converting record %s failed", record.id, exc_info=True)
                result.rejected[index] = Rejection(f"cannot convert: {type(exc).__name__}: {exc}")
        return pieces

    def requests(self, records: Sequence[Record], result: SendResult) -> list[Request]:
        """The batch as requests, merged by destination within the configured limits."""
        return merge_pieces(
            self.pieces(records, result),
            max_bytes=self._batching.max_request_bytes,
            max_records=min(self._batching.max_records_per_request, MAX_RECORDS_PER_REQUEST),
        )

    def send(self, records: Sequence[Record]) -> SendResult:
        result = SendResult()
        requests = self.requests(records, result)
        if self._in_flight == 1 or len(requests) <= 1:
            for request in requests:
                if not self._deliver(request, records, result):
                    break
            return result
        stopped = threading.Event()
        lock = threading.Lock()

        def deliver(request: Request) -> None:
            if stopped.is_set():  # an earlier request failed: leave the rest for the retry
                return
            part = SendResult()
            if not self._deliver(request, records, part):
                stopped.set()
            with lock:
                result.add(part)

        pool = self._executor()
        for future in [pool.submit(deliver, request) for request in requests]:
            future.result()
        return result

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._in_flight, thread_name_prefix="http-sink")
            return self._pool

    def _deliver(self, request: Request, records: Sequence[Record], result: SendResult) -> bool:
        """Post one request; False when a transient failure stops the send."""
        outcome = self._post(request)
        if outcome is None:
            result.accepted.extend(request.indexes)
            result.requests += 1
            result.rows += request.rows
            return True
        if isinstance(outcome, tuple):
            result.failure, result.failure_kind = outcome
            return False
        if len(request.indexes) == 1:
            result.rejected[request.indexes[0]] = outcome
            return True
        # One bad record must not take its neighbours down: resend them one by one.
        singles = merge_pieces(
            ((i, convert_record(records[i])) for i in request.indexes),
            max_bytes=self._batching.max_request_bytes,
            max_records=1,
        )
        return all(self._deliver(single, records, result) for single in singles)

    def _request_id(self) -> dict[str, str]:
        """The ``X-Request-ID`` header of a new request (or attempt)."""
        # Not uuid4: unique is enough, and os.urandom would be a system call per request.
        return {"X-Request-ID": f"{self._id_prefix}-{random.getrandbits(48):012x}"}

    def _post(self, request: Request) -> Rejection | tuple[DestinationUnavailable, str] | None:
        headers = {
            "Idempotency-Key": request.idempotency_key,
            "X-Spoolwatch-Record-Ids": ",".join(request.record_ids),
            "X-Spoolwatch-Record-Items": ",".join(map(str, request.item_counts)),
            **self._request_id(),
        }
        rid = headers["X-Request-ID"]
        url = self._base + request.path
        try:
            response = self._client.post(url, content=request.body, headers=headers)
        except httpx.TimeoutException as exc:
            return DestinationUnavailable(
                f"POST {url}: timed out ({type(exc).__name__}; request id {rid})",
                request_id=rid,
            ), "timeout"
        except httpx.TransportError as exc:
            return DestinationUnavailable(
                f"POST {url}: {type(exc).__name__}: {exc} (request id {rid})", request_id=rid
            ), "connection"
        status = response.status_code
        logger.debug(
            "POST %s: HTTP %s, %d records (request id %s)",
            url,
            status,
            len(request.record_ids),
            rid,
            extra={"request_id": rid},
        )
        if status == 202 and "Location" in response.headers and "/actuals/" in request.path:
            return await_actuals_job(
                self._client,
                url,
                response.headers["Location"],
                wait_seconds=self._actuals_wait,
                poll_seconds=self._poll_seconds,
                max_body_chars=self._max_body_chars,
                request_id=self._request_id,
            )
        if 200 <= status < 300:
            return None
        named = naming(rid, response)
        if 300 <= status < 400:
            # A redirect means the target URL is wrong, not the records: keep them waiting.
            where = response.headers.get("Location", "nowhere")
            return DestinationUnavailable(
                f"POST {url}: HTTP {status} redirect to {where} ({named}); set the target url "
                "to it",
                request_id=rid,
            ), "connection"
        body = response.text[: self._max_body_chars]
        if status in AUTH_STATUSES:
            return DestinationUnavailable(
                f"{self._refused(f'POST {url}', status, body)} ({named})",
                status=status,
                body=body,
                request_id=rid,
            ), "auth"
        if status >= 500 or status in _TRANSIENT_4XX:
            kind = "http_429" if status == 429 else "timeout" if status == 408 else "http_5xx"
            return DestinationUnavailable(
                f"POST {url}: HTTP {status} ({named})",
                retry_after=retry_after(response),
                status=status,
                body=body,
                request_id=rid,
            ), kind
        return Rejection(
            f"POST {url} answered HTTP {status} ({named}): {body}",
            status=status,
            body=body,
            request_id=rid,
        )

    def _refused(self, what: str, status: int, body: str) -> str:
        """What an auth answer means and what to check; never the token itself."""
        return refusal_message(
            what,
            status,
            body,
            base=self._base,
            spoolwatch_target=self._asks_known,
            token_source=self._token_source,
            secrets=self._secrets,
        )

    def heartbeat(self, status: dict[str, Any]) -> bool:
        """Post a heartbeat; False (disable) on 404/405, True otherwise (even on errors)."""
        return self._questions.heartbeat(status)

    def answers(self) -> bool:
        """Whether the probe gets an answer other than 5xx or 429."""
        return self._questions.answers()

    def check_credentials(self) -> str | None:
        """The probe's 401/403 as a message; any other answer, or none, passes."""
        return self._questions.check_credentials()

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        """Ask a spoolwatch target which of ``ids`` it has; the empty set on any failure."""
        return self._questions.known_record_ids(ids)

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self._client.close()
