"""A small real HTTP destination for tests and benchmarks, on 127.0.0.1.

:class:`RecordingServer` accepts DataRobot ingestion POSTs and records each one
(path, headers, body), or only counts them (``keep=False``, for throughput runs). Its
answers can be scripted: ``server.fail_next(503, times=3)``, ``server.answer(path_part,
status)``, ``server.answer_body(marker, 500)`` (a record the service cannot fold: every
request whose body carries ``marker`` fails, whatever else it carries). Standard library
only, HTTP/1.1 keep-alive, one thread per connection.

It also answers the agent's question ``POST /api/v2/spoolwatch/records/known/`` from the
record ids of the requests it accepted (2xx), as the monitoring service does; the questions
are kept in :attr:`RecordingServer.queries`, apart from the ingestion requests (the
agent's probe, a question about :data:`~spoolwatch.sinks.http.PROBE_RECORD_ID` alone, is
counted in :attr:`RecordingServer.probes` instead), and answer rules apply to them
(``server.answer("records/known", 404)`` plays an older service). With ``keep=False``
nothing is remembered, so every id is unknown.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import orjson

from spoolwatch.sinks.http import PROBE_RECORD_ID

__all__ = ["KNOWN_RECORDS_PATH", "RecordedRequest", "RecordingServer"]

#: The monitoring service's known-records question, as a path part.
KNOWN_RECORDS_PATH = "/api/v2/spoolwatch/records/known/"


@dataclass(frozen=True)
class RecordedRequest:
    """One POST the server received, with the status it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.body)

    @property
    def record_ids(self) -> list[str]:
        """Ids from ``X-Spoolwatch-Record-Ids``."""
        value = self.headers.get("x-spoolwatch-record-ids", "")
        return [part for part in value.split(",") if part]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each answer waits for the
    # client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        # The version probe (GET /api/v2/version/): answer rules apply, scripted failures
        # (which count POSTs) do not, and nothing is recorded.
        owner = self.server.owner
        status, answer = 200, b'{"major":2,"minor":33,"versionString":"2.33"}'
        with owner._lock:
            for part, rule_status, body in owner._rules:
                if part in self.path:
                    status, answer = rule_status, body
                    break
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        owner = self.server.owner
        if KNOWN_RECORDS_PATH in self.path:
            self._reply(*owner._known(self.path, body))
            return
        with owner._lock:
            owner._in_flight += 1
            owner.peak_in_flight = max(owner.peak_in_flight, owner._in_flight)
        try:
            if owner.delay:
                time.sleep(owner.delay)
            status, extra, answer = owner._decide(self.path, body)
        finally:
            with owner._lock:
                owner._in_flight -= 1
        owner._record(
            self.path, {k.lower(): v for k, v in self.headers.items()}, body, status, answer
        )
        payload = answer if status >= 300 else b'{"message":"accepted"}'
        self._reply(status, payload, extra)

    def _reply(self, status: int, payload: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: RecordingServer


class RecordingServer:
    """An HTTP server on 127.0.0.1 that records or counts POSTs; use as a context manager."""

    def __init__(self, *, keep: bool = True, port: int = 0, delay: float = 0.0) -> None:
        self.keep = keep
        #: Seconds to wait before answering each POST (a slow destination).
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self.count = 0
        self.bytes = 0
        #: Records carried by the answered-2xx requests (from ``X-Spoolwatch-Record-Ids``).
        self.records = 0
        #: ``time.monotonic()`` when the last 2xx answer was decided (system-wide on Linux).
        self.last_accepted_at: float | None = None
        #: The record ids of each known-records question, in arrival order.
        self.queries: list[list[str]] = []
        #: The agent's probes (credentials check, "is it up?") among those questions.
        self.probes = 0
        #: The most ingestion POSTs that were being answered at the same time.
        self.peak_in_flight = 0
        self._in_flight = 0
        self._script: deque[tuple[int, dict[str, str], bytes]] = deque()
        self._rules: list[tuple[str, int, bytes]] = []
        self._body_rules: list[tuple[bytes, int, bytes]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.owner = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43125``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        retry_after: float | None = None,
        body: bytes = b'{"message":"unavailable"}',
    ) -> None:
        """Answer the next ``times`` POSTs with ``status`` (and a Retry-After header)."""
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self._script.extend((status, extra, body) for _ in range(times))

    def answer(self, path_part: str, status: int, body: bytes = b'{"message":"invalid"}') -> None:
        """Answer every POST whose path contains ``path_part`` with ``status``."""
        with self._lock:
            self._rules.append((path_part, status, body))

    def answer_body(
        self, marker: bytes, status: int, body: bytes = b'{"message":"cannot fold"}'
    ) -> None:
        """Answer every ingestion POST whose body contains ``marker`` with ``status``."""
        with self._lock:
            self._body_rules.append((marker, status, body))

    def clear(self) -> None:
        """Forget scripted failures and answer rules: every POST is accepted again."""
        with self._lock:
            self._script.clear()
            self._rules.clear()
            self._body_rules.clear()

    def _decide(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            if self._script:
                return self._script.popleft()
            for marker, status, answer in self._body_rules:
                if marker in body:
                    return status, {}, answer
            for part, status, body in self._rules:
                if part in path:
                    return status, {}, body
        return 202, {}, b""

    def _record(
        self, path: str, headers: dict[str, str], body: bytes, status: int, answer: bytes
    ) -> None:
        with self._lock:
            self.count += 1
            self.bytes += len(body)
            ids = headers.get("x-spoolwatch-record-ids", "")
            if 200 <= status < 300:
                self.last_accepted_at = time.monotonic()
                if ids:
                    self.records += ids.count(",") + 1
            if self.keep:
                self.requests.append(RecordedRequest(path, headers, body, status))

    def _known(self, path: str, body: bytes) -> tuple[int, bytes]:
        """The answer to a known-records question: answer rules first, then the ids asked
        that were carried by an accepted request."""
        try:
            asked = orjson.loads(body).get("recordIds")
        except (orjson.JSONDecodeError, AttributeError):
            asked = None
        if not isinstance(asked, list) or not all(isinstance(r, str) for r in asked):
            return 422, b'{"detail":"recordIds: a list of record ids is required"}'
        with self._lock:
            if asked == [PROBE_RECORD_ID]:
                self.probes += 1
            else:
                self.queries.append(list(asked))
            for part, status, answer in self._rules:
                if part in path:
                    return status, answer
            had = {rid for r in self.requests if 200 <= r.status < 300 for rid in r.record_ids}
        known = [rid for rid in dict.fromkeys(asked) if rid in had]
        return 200, orjson.dumps({"known": known})

    def accepted(self) -> list[RecordedRequest]:
        """The requests answered with 2xx."""
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def start(self) -> RecordingServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
