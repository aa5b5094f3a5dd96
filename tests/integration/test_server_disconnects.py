"""A client that disconnects mid-body is one warning line in the log of a real
``spoolwatch serve``, never an error traceback, and the service keeps answering."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spoolwatch.store.base import open_store
from spoolwatch.store.tokens import TokenScope, create_token
from tests.conftest import free_port

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
INGEST_PATH = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"
HEARTBEAT_PATH = "/api/v2/spoolwatch/agents/heartbeat/"


class Served:
    """``spoolwatch serve`` in a subprocess, its log in a file."""

    def __init__(self, tmp_path: Path) -> None:
        db = f"sqlite:///{tmp_path / 'db.sqlite'}"
        store = open_store(db)
        self.token = create_token(store, "agent", TokenScope.INGEST)[1]
        store.close()
        self.port = free_port()
        self.log_path = tmp_path / "serve.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "spoolwatch", "serve", "--db", db, "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SPOOLWATCH_DB": ""},
        )

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.version()
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline and self.process.poll() is None, self.log()
                time.sleep(0.1)

    def version(self) -> httpx.Response:
        return httpx.get(
            f"http://127.0.0.1:{self.port}/api/v2/version/",
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def send_part_of_a_body(self, path: str, announced: int, sent: int) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as client:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {announced}\r\n\r\n"
            )
            client.sendall(head.encode() + b"{" + b" " * (sent - 1))
            time.sleep(0.2)  # the service has read the bytes and waits for the rest

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, count: int) -> None:
        deadline = time.monotonic() + 10
        while self.log().count(text) < count:
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    service = Served(tmp_path)
    try:
        service.wait_until_up()
        yield service
    finally:
        service.stop()


def test_client_disconnecting_mid_body_is_one_warning_line_not_a_traceback(
    served: Served,
) -> None:
    served.send_part_of_a_body(INGEST_PATH, 10_000, 100)
    served.send_part_of_a_body(HEARTBEAT_PATH, 10_000, 100)  # a body FastAPI parses itself
    served.wait_for_log("client disconnected", 2)
    assert served.version().status_code == 200
    log = served.log()
    lines = [line for line in log.splitlines() if "client disconnected" in line]
    assert lines == [
        "WARNING:  client disconnected before sending its whole body: "
        f"POST {INGEST_PATH}, 100 of 10000 bytes received",
        "WARNING:  client disconnected before sending its whole body: "
        f"POST {HEARTBEAT_PATH}, 100 of 10000 bytes received",
    ]
    assert "Traceback" not in log and "ERROR" not in log
