"""Load-generator HTTP clients: one keep-alive connection each, status codes only.

Not a benchmark itself. :class:`RawClient` writes ready HTTP/1.1 requests on one socket
and reads the answers by ``Content-Length``: a few tens of microseconds of CPU per request,
where ``httpx`` spends about a millisecond (measured on this machine: ~1.1 ms of CPU per
request with 20 threads, so one process tops out near 900 requests/s, below the 2,000
requests/s a benchmark must be able to offer). :class:`HttpxClient` is the same interface
over ``httpx.Client`` for comparison (``concurrent_clients.py --http httpx``).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx


class RawClient:
    """One keep-alive HTTP/1.1 connection to ``base`` with a bearer token; reconnects on error."""

    def __init__(self, base: str, token: str, timeout: float = 30.0) -> None:
        parts = urlsplit(base)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._timeout = timeout
        self._fixed = f"Host: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n".encode()
        self._sock: socket.socket | None = None
        self._buffer = b""

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.create_connection(self._address, timeout=self._timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock, self._buffer = sock, b""
        return self._sock

    def _exchange(self, head: bytes, body: bytes) -> int:
        sock = self._connect()
        try:
            sock.sendall(head + body)
            return self._answer(sock)
        except BaseException:
            self.close()
            raise

    def _answer(self, sock: socket.socket) -> int:
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._receive(sock)
        header, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = header.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = dict(line.split(b":", 1) for line in lines[1:] if b":" in line)
        fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
        if b"content-length" not in fields:
            raise ConnectionError("answer without Content-Length (chunked is not supported)")
        length = int(fields[b"content-length"])
        while len(self._buffer) < length:
            self._buffer += self._receive(sock)
        self._buffer = self._buffer[length:]
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status

    @staticmethod
    def _receive(sock: socket.socket) -> bytes:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def post(self, path: str, body: bytes, idempotency_key: str) -> int:
        """POST a JSON body; the status code."""
        head = (
            f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nIdempotency-Key: {idempotency_key}\r\n"
        ).encode()
        return self._exchange(head + self._fixed + b"\r\n", body)

    def get(self, path: str) -> int:
        """GET ``path``; the status code."""
        return self._exchange(f"GET {path} HTTP/1.1\r\n".encode() + self._fixed + b"\r\n", b"")

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class HttpxClient:
    """The same interface over a keep-alive ``httpx.Client``."""

    def __init__(self, base: str, token: str, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        self._client = httpx.Client(base_url=base, headers=headers, timeout=timeout)

    def post(self, path: str, body: bytes, idempotency_key: str) -> int:
        """POST a JSON body; the status code."""
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        return self._client.post(path, content=body, headers=headers).status_code

    def get(self, path: str) -> int:
        """GET ``path``; the status code."""
        return self._client.get(path).status_code

    def close(self) -> None:
        """Close the client."""
        self._client.close()


CLIENTS = {"raw": RawClient, "httpx": HttpxClient}
