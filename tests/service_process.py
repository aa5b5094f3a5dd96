"""A real ``spoolwatch serve`` in a subprocess for integration tests, and its first token.

Tests start one per module (a module-scoped fixture around :func:`running_service`): a
service takes a second or two to start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from typer.testing import CliRunner

from spoolwatch.cli import app
from tests.conftest import free_port

__all__ = ["direct_token", "running_service", "service_process"]


def direct_token(db: str, name: str, scope: str = "ingest") -> str:
    """A token made with ``spoolwatch tokens create --db`` (the bootstrap, no service)."""
    args = ["tokens", "create", "--name", name, "--scope", scope, "--db", db, "--json"]
    result = CliRunner(env={"SPOOLWATCH_URL": None}).invoke(app, args)
    assert result.exit_code == 0, result.output
    token: str = json.loads(result.stdout)["token"]
    return token


@contextmanager
def running_service(db: str, token: str, *args: str, no_tracebacks: bool = False) -> Iterator[str]:
    """``spoolwatch serve --db db`` on a free port until the block ends; yields its URL once
    ``GET /api/v2/version/`` answers with ``token``. With ``no_tracebacks``, the service's
    log must hold no traceback when it stops: nothing sent to it failed inside it."""
    with service_process(db, token, *args, no_tracebacks=no_tracebacks) as (_process, url):
        yield url


@contextmanager
def service_process(
    db: str, token: str, *args: str, no_tracebacks: bool = False
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """As :func:`running_service`, yielding the process too (a test may signal it); it is
    terminated at the end unless it has exited."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "spoolwatch", "serve"),
                *("--db", db, "--port", str(port), "--log-level", "warning", *args),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log if no_tracebacks else subprocess.DEVNULL,
            env={**os.environ, "SPOOLWATCH_DB": ""},
        )
        try:
            _wait_until_answering(process, url, token)
            yield process, url
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=60)
        log.seek(0)
        errors = log.read()
    if no_tracebacks:
        assert b"Traceback" not in errors, errors.decode(errors="replace")


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, token: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            answer = httpx.get(
                f"{url}/api/v2/version/", headers={"Authorization": f"Bearer {token}"}
            )
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "spoolwatch serve did not answer in 30 s"
            assert process.poll() is None, f"spoolwatch serve exited with {process.returncode}"
            time.sleep(0.1)
    assert answer.status_code == 200, answer.text
