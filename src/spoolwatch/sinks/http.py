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
otherwise (:meth:`HttpSink.answers`, the probe below) the agent can narrow it down to the
records that fail alone and quarantine those with that answer (see
:mod:`spoolwatch.agent.channel`). 401/403 are ``auth`` failures: the message names the
target, carries the destination's own reason (see :mod:`spoolwatch.sinks.refusal`) and says
what to check (the token, its scope), the agent stops the channel and the
records stay in the spool, never quarantined. Any other 4xx rejects the request; a merged
request is then retried record by record so only the bad record is quarantined, with the
status and the start of the response body.

The probe (:meth:`HttpSink.answers`, and :meth:`HttpSink.check_credentials` at start-up)
is one cheap authenticated request, never made on the hot path: a spoolwatch target is
asked ``POST spoolwatch/records/known/`` about one made-up id (a read of the store the
records go to, which an ingest-only token may make); a DataRobot target is asked
``GET version/``, which shows that the token is valid but not what it may write to (a
deployment the token cannot write to shows at the first send, as a 403).

Redelivered records (see :meth:`~spoolwatch.sinks.base.Sink.known_record_ids`): a spoolwatch
target is asked which of them it already has (``POST spoolwatch/records/known/``, 1,000 ids a
request); DataRobot has no such question, so a datarobot target is never asked. Any failure
to answer (an older service's 404 included) means none known: the records are sent.

The base URL is used as DataRobot's library does (spec §5.1): ``/api/v2`` is removed from
it, the trailing ``/`` stripped, then ``/api/v2/<path>`` appended.
"""

from __future__ import annotations

import email.utils
import importlib.util
import logging
import random
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from spoolwatch.errors import DestinationUnavailable, InvalidRecord
from spoolwatch.records import Record
from spoolwatch.sinks.base import Rejection, SendResult, Sink
from spoolwatch.sinks.config import BatchingConfig, TargetConfig
from spoolwatch.sinks.refusal import refusal_message
from spoolwatch.sinks.rest_requests import Piece, Request, convert_record, merge_pieces
from spoolwatch.version import __version__

__all__ = [
    "HEARTBEAT_PATH",
    "KNOWN_RECORDS_PATH",
    "MAX_RECORDS_PER_REQUEST",
    "PROBE_RECORD_ID",
    "DryRunSink",
    "HttpSink",
    "api_base",
]

logger = logging.getLogger(__name__)

HEARTBEAT_PATH = "spoolwatch/agents/heartbeat/"
KNOWN_RECORDS_PATH = "spoolwatch/records/known/"
#: Record ids per known-records question at most (the service refuses more).
_KNOWN_RECORDS_CHUNK = 1000
#: Records per request at most, whatever the config says: their ids travel in one header
#: (about 37 bytes each), and servers commonly refuse header blocks above 8-16 KiB.
MAX_RECORDS_PER_REQUEST = 200
_TRANSIENT_4XX = {408, 429}
_AUTH = {401, 403}
#: The record id the credentials check and the probe ask about (never a real one).
PROBE_RECORD_ID = "spoolwatch-agent-probe"
#: What a request id may hold (the service ignores an id with anything else).
_NOT_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:-]+")


def api_base(url: str) -> str:
    """``https://host/api/v2`` or ``https://host/`` → ``https://host/api/v2/``."""
    return url.replace("/api/v2", "").rstrip("/") + "/api/v2/"


def _split_userinfo(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """``url`` without ``user:password@`` and the Basic auth it stood for (if any)."""
    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return url, None
    auth = httpx.BasicAuth(parsed.username, parsed.password)
    return str(parsed.copy_with(username=None, password=None)), auth


_JOB_RUNNING = {"initialized", "running", "inqueue", "queued"}
_JOB_FAILED = {"abort", "aborted", "error", "failed"}


def request_id_prefix(agent_id: str) -> str:
    """``agent_id`` as the start of a request id: other characters become ``-``, at most 64
    characters kept (``agent`` when nothing is left)."""
    return _NOT_IN_REQUEST_ID.sub("-", agent_id)[:64].strip("-") or "agent"


def _naming(request_id: str, response: httpx.Response | None = None) -> str:
    """``request id X``, and the destination's own id for it when that differs."""
    echoed = response.headers.get("X-Request-ID") if response is not None else None
    if echoed and echoed != request_id:
        return f"request id {request_id}, answered as {echoed[:128]}"
    return f"request id {request_id}"


def _answered(response: httpx.Response) -> str:
    """:func:`_naming` for the request ``response`` answers."""
    return _naming(response.request.headers.get("X-Request-ID", "?"), response)


def _job_state(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return ""
    return str(doc.get("status", "")).lower() if isinstance(doc, dict) else ""


def _retry_after(response: httpx.Response) -> float | None:
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
        base, auth = _split_userinfo(api_base(target.url))
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
        # A probe that waits long says nothing a send would not: the records wait either way.
        self._probe_timeout = min(5.0, target.timeout_seconds)
        self._known_unanswered = False
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
            return self._await_job(url, response.headers["Location"])
        if 200 <= status < 300:
            return None
        named = _naming(rid, response)
        if 300 <= status < 400:
            # A redirect means the target URL is wrong, not the records: keep them waiting.
            where = response.headers.get("Location", "nowhere")
            return DestinationUnavailable(
                f"POST {url}: HTTP {status} redirect to {where} ({named}); set the target url "
                "to it",
                request_id=rid,
            ), "connection"
        body = response.text[: self._max_body_chars]
        if status in _AUTH:
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
                retry_after=_retry_after(response),
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

    def _await_job(self, url: str, location: str) -> Rejection | None:
        """Actuals are an asynchronous job (202 + ``Location``): poll it as DataRobot's own
        client does. 303 or a finished status: done. ``abort``/``error``: the upload was
        refused, so the records are quarantined with the job's answer. Still running after
        ``actuals_wait_seconds``, or a status URL that cannot be read: the destination has
        accepted the upload, so the records are acked (sending them again would not help)
        and a warning says so."""
        status_url = urljoin(url, location)
        deadline = time.monotonic() + self._actuals_wait
        while True:
            try:
                response = self._client.get(
                    status_url, follow_redirects=False, headers=self._request_id()
                )
            except httpx.HTTPError as exc:
                logger.warning(
                    "actuals job %s: %s; taking the 202 as accepted", status_url, type(exc).__name__
                )
                return None
            if response.status_code == 303:
                return None
            state = _job_state(response)
            if response.status_code == 200 and state in _JOB_FAILED:
                body = response.text[: self._max_body_chars]
                return Rejection(
                    f"actuals job {status_url} ended {state} ({_answered(response)}): {body}",
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
            if time.monotonic() + self._poll_seconds > deadline:
                logger.warning(
                    "actuals job %s still %s after %.0f s; taking the 202 as accepted",
                    status_url,
                    state or "unknown",
                    self._actuals_wait,
                )
                return None
            time.sleep(self._poll_seconds)

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
            why = f"{type(exc).__name__} ({_naming(headers['X-Request-ID'])})"
            return f"{method} {url}", None, why
        return f"{method} {url}", answer, ""

    def answers(self) -> bool:
        """Whether the probe gets an answer other than 5xx or 429."""
        what, response, why = self._probe()
        if response is None:
            logger.info("%s: %s; the destination is not answering", what, why)
            return False
        status = response.status_code
        logger.info("%s: HTTP %s (%s)", what, status, _answered(response))
        return status < 500 and status != 429

    def check_credentials(self) -> str | None:
        """The probe's 401/403 as a message; any other answer, or none, passes."""
        what, response, why = self._probe()
        if response is None:
            logger.info("%s: %s; the API token is checked by the first send", what, why)
            return None
        if response.status_code in _AUTH:
            body = response.text[: self._max_body_chars]
            return f"{self._refused(what, response.status_code, body)} ({_answered(response)})"
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
                f"HTTP {response.status_code} without a list of known ids ({_answered(response)})",
            )
            return None
        # Only ids that were asked: an id acked on a wrong answer would be lost.
        return {item for item in known if isinstance(item, str)} & set(chunk)

    def _unanswered(self, url: str, why: str) -> None:
        log = logger.debug if self._known_unanswered else logger.info
        self._known_unanswered = True
        log("POST %s: %s; redelivered records are sent again", url, why)

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self._client.close()


class DryRunSink(HttpSink):
    """Converts and merges exactly like :class:`HttpSink`, sends nothing, accepts all."""

    kind = "dry-run"

    def send(self, records: Sequence[Record]) -> SendResult:
        result = SendResult()
        requests = self.requests(records, result)
        for request in requests:
            logger.debug(
                "dry run: would POST %s (%d bytes, %d records)",
                request.path,
                len(request.body),
                len(request.indexes),
            )
            result.accepted.extend(request.indexes)
            result.requests += 1
            result.rows += request.rows
        return result

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        return set()

    def heartbeat(self, status: dict[str, Any]) -> bool:
        return False
