"""What the service benchmarks share: fresh databases and ``spoolwatch serve`` in a subprocess.

Not a benchmark itself (``run_all.py`` does not list it). A benchmark opens a fresh database
with :func:`fresh_database` (a SQLite file in a temporary folder, or a new database on the
PostgreSQL at 127.0.0.1 that is dropped afterwards), fills it through ``store`` functions,
makes a token with :func:`make_token`, then runs the real service with :func:`serve` (auth
on, ``--log-level warning``) and talks to it over HTTP.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from spoolwatch.store.base import open_store
from spoolwatch.store.tokens import create_token

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_BASE = "postgresql://postgres@127.0.0.1:5432"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_answers() -> str | None:
    """``None`` when the PostgreSQL at 127.0.0.1 answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # the benchmark reports a missing server and goes on
        return f"{type(exc).__name__}: {exc}".strip()


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """The URL of an empty, migrated database of ``backend`` (sqlite or postgresql)."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="spoolwatch-bench-db-")
        url = f"sqlite:///{folder}/bench.db"
        try:
            open_store(url).close()
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg

    name = f"spoolwatch_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_BASE}/{name}"
    try:
        open_store(url).close()
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_token(url: str) -> str:
    """A new API token in the database at ``url``."""
    store = open_store(url)
    try:
        _, token = create_token(store, f"bench-{uuid.uuid4().hex[:8]}")
    finally:
        store.close()
    return token


def _wait_ready(base: str, token: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"spoolwatch serve exited during start-up: {error}")
        try:
            if httpx.get(f"{base}/api/v2/version/", headers=headers, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("spoolwatch serve did not answer within 60 s")


@dataclass(frozen=True)
class Service:
    """A running ``spoolwatch serve``: its base URL and process id."""

    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the service has used so far: its process and the worker
        processes it started (``--workers``), those alive now and those it reaped."""
        ticks = 0
        for pid in _tree(self.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # it ended meanwhile
                continue
            ticks += _process_seconds(fields)
        return ticks / os.sysconf("SC_CLK_TCK")


def _process_seconds(fields: list[str]) -> int:
    """utime + stime + cutime + cstime of a ``/proc/<pid>/stat`` line's fields after ``)``."""
    return sum(int(f) for f in fields[11:15])


def postgres_cpu_seconds() -> float:
    """CPU time every ``postgres`` process on this machine has used so far (the server and
    its backends, whoever started them; ended backends are counted in the server's
    ``cutime``/``cstime``)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            before, after = (entry / "stat").read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        if before.split("(", 1)[-1] == "postgres":
            ticks += _process_seconds(after.split())
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all cores of this machine spent working so far (``/proc/stat``: user, nice,
    system, irq, softirq; not idle, iowait or steal)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:3]) + sum(fields[5:7])) / os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


_SERVICES = itertools.count(1)


@contextmanager
def serve(url: str, token: str, *extra: str) -> Iterator[Service]:
    """Run ``python -m spoolwatch serve --db url`` (auth on) until the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "spoolwatch", "serve", "--db", url, "--port", str(port)]
    command += ["--log-level", "warning", *extra]
    if profile := os.environ.get("SPOOLWATCH_BENCH_PYSPY"):
        # Record the service with py-spy (``pip install py-spy``): collapsed stacks; a
        # ``{n}`` in the path is the service's number in this run (one file per service).
        profile = profile.replace("{n}", str(next(_SERVICES)))
        # SPOOLWATCH_BENCH_PYSPY_ALL=1: every running thread, not only the one holding the
        # GIL (time spent in SQLite's C code, which releases the GIL, shows up then).
        gil = [] if os.environ.get("SPOOLWATCH_BENCH_PYSPY_ALL") else ["--gil"]
        spy = ["py-spy", "record", *gil, "-r", "200", "-f", "raw", "-o", profile, "--"]
        command = spy + command
    # A file, not a pipe: a service that logs much must never block on a full pipe.
    log = Path(tempfile.mkstemp(prefix="spoolwatch-bench-serve-", suffix=".log")[1])
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, env=dict(os.environ)
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, token, process, log)
        yield Service(base, process.pid)
    finally:
        # py-spy writes its file on SIGINT; the service stops on either.
        process.send_signal(signal.SIGINT if profile else signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.unlink(missing_ok=True)


def api(base: str, token: str, timeout: float = 60.0) -> httpx.Client:
    """An HTTP client of the service at ``base`` with the token."""
    return httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    )
