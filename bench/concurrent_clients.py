"""Concurrent clients: 40 ingest clients of small bodies and readers, against ``spoolwatch serve``.

The service runs in its own process (``python -m spoolwatch serve``, auth on, a fresh
database with four binary deployments that have drift baselines). ``--clients`` ingest
clients (default 40: threads spread over ``--processes`` load processes, one keep-alive
HTTP/1.1 connection each: ``keepalive.RawClient``, or ``--http httpx``) post as fast as they
are answered, taking turns between a 10-row
``predictionInputs`` body with association ids and a one-item ``predictionRequests`` body
(service stats), over the four deployments; every request has its own Idempotency-Key and
association ids, so nothing is deduplicated. At the same time, in another process, readers
ask ``GET .../serviceStats/`` and ``GET /api/v2/version/`` (each reader once per 50 ms) and
time every answer. The run lasts ``--seconds`` (default 10) after all clients are up.

Figures: ingest requests/s answered 202 over the run, ingest latency p50/p99, reader latency
p50/p99 per kind. The load processes' CPU use, their CPU per request and the rate that
allows (one core per process at most) are printed, so a saturated load generator shows (then
the figures are a lower bound). Afterwards the totals are checked through the query
API: every accepted stats item and prediction row counted once. Targets: >= 2,000 ingest
requests/s, reads p99 < 100 ms. With several ``--workers`` counts the service runs with each
(``serve --workers N``) in turn, ``--repeat`` rounds, every run in a fresh database with its
totals checked, and the medians are compared (target on PostgreSQL: 2 processes >= 1.6x
one); the service's CPU then includes its worker processes::

    .venv/bin/python bench/concurrent_clients.py                  # SQLite, and PostgreSQL
    .venv/bin/python bench/concurrent_clients.py --only sqlite --seconds 5
    .venv/bin/python bench/concurrent_clients.py --only postgresql --workers 1 2 --repeat 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from keepalive import CLIENTS, HttpxClient, RawClient
from real_stream import DEPLOYMENTS, MODEL, Traffic, create_deployments
from served import (
    api,
    fresh_database,
    machine_busy_seconds,
    make_token,
    postgres_answers,
    postgres_cpu_seconds,
    serve,
)
from spoolwatch.demo.model import CLASS_NAMES

ROWS = 10
READ_PAUSE = 0.05
TARGET_RATE = 2_000
TARGET_P99_MS = 100.0
TARGET_WORKERS_RATIO = 1.6  # PostgreSQL: 2 service processes against one
Client = RawClient | HttpxClient
_LOCK = threading.Lock()
_BODIES: list[Bodies] = []  # one per load process, built before the clock starts
PATHS = {
    "inputs": "/api/v2/deployments/{d}/predictionInputs/fromJSON/",
    "stats": "/api/v2/deployments/{d}/predictionRequests/fromJSON/",
}


@dataclass
class Tally:
    """What one load process saw: latencies (s) per kind, failures, CPU and wall seconds."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0
    wall: float = 0.0
    role: str = ""
    processes: int = 0

    def add(self, other: Tally) -> None:
        """Fold another tally into this one."""
        for mine, theirs in (
            (self.latencies, other.latencies),
            (self.accepted, other.accepted),
            (self.failures, other.failures),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0 if isinstance(value, int) else []) + value
        self.cpu += other.cpu
        self.wall = max(self.wall, other.wall)
        self.processes += other.processes


class Bodies:
    """Small ingest bodies with fresh association ids."""

    def __init__(self, seed: int) -> None:
        traffic = Traffic(50, seed=seed)
        self._templates = [
            (
                [{"name": k, "values": v[:ROWS]} for k, v in traffic.request(n).items()],
                traffic.probabilities[n * 25 : n * 25 + ROWS],
            )
            for n in range(50)
        ]
        self._timestamp = time.strftime("%Y-%m-%d %H:%M:%S.000+0000", time.gmtime())

    def inputs(self, n: int, prefix: str) -> bytes:
        """A 10-row predictionInputs body; association ids ``{prefix}-{n}-{row}``."""
        features, predictions = self._templates[n % len(self._templates)]
        item = {
            "timestamp": self._timestamp,
            "modelId": MODEL,
            "features": features,
            "predictions": predictions,
            "associationIds": [f"{prefix}-{n}-{row}" for row in range(ROWS)],
            "classNames": list(CLASS_NAMES),
        }
        return orjson.dumps({"data": [item]})

    def stats(self, n: int) -> bytes:
        """A one-request predictionRequests body."""
        item = {
            "timestamp": self._timestamp,
            "modelId": MODEL,
            "numPredictions": ROWS,
            "executionTime": 12.5 + n % 7,
        }
        return orjson.dumps({"data": [item]})


def _count(tally: Tally, kind: str, status: int | str, seconds: float, ok: int) -> None:
    with _LOCK:
        if status == ok:
            tally.latencies.setdefault(kind, []).append(seconds)
            tally.accepted[kind] = tally.accepted.get(kind, 0) + 1
        else:
            key = f"{kind} {status}"
            tally.failures[key] = tally.failures.get(key, 0) + 1


def _client(client: Client, name: str, deadline: float, tally: Tally) -> None:
    bodies = _BODIES[0]
    n = 0
    while time.time() < deadline:
        kind = "inputs" if n % 2 == 0 else "stats"
        body = bodies.inputs(n, name) if kind == "inputs" else bodies.stats(n)
        path = PATHS[kind].format(d=DEPLOYMENTS[n % len(DEPLOYMENTS)])
        started = time.perf_counter()
        try:
            status: int | str = client.post(path, body, f"{name}-{n}")
        except Exception as exc:  # counted and reported, the run goes on
            status = type(exc).__name__
        _count(tally, kind, status, time.perf_counter() - started, 202)
        n += 1
    client.close()


def _reader(client: Client, kind: str, deadline: float, tally: Tally) -> None:
    path = "/api/v2/version/" if kind == "version" else "/api/v2/deployments/{d}/serviceStats/"
    n = 0
    while time.time() < deadline:
        started = time.perf_counter()
        try:
            status: int | str = client.get(path.format(d=DEPLOYMENTS[n % len(DEPLOYMENTS)]))
        except Exception as exc:  # counted and reported, the run goes on
            status = type(exc).__name__
        _count(tally, kind, status, time.perf_counter() - started, 200)
        n += 1
        time.sleep(READ_PAUSE)
    client.close()


def load_process(
    base: str, token: str, jobs: list[tuple[str, str]], times: tuple[float, float, str], out: Any
) -> None:
    """Run ``jobs`` (role, name) as threads between ``times`` (wall clock start, end, and the
    client kind); put a :class:`Tally` on ``out``."""
    start, end, http = times
    tally = Tally(role=jobs[0][0], processes=1)
    _BODIES.append(Bodies(seed=os.getpid()))
    # Clients are made before the clock starts: an httpx client costs tens of ms of CPU.
    threads = [
        threading.Thread(
            target=_client if role == "ingest" else _reader,
            args=(CLIENTS[http](base, token), name, end, tally),
            daemon=True,
        )
        for role, name in jobs
    ]
    time.sleep(max(0.0, start - time.time()))
    cpu, wall = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.cpu, tally.wall = time.process_time() - cpu, time.perf_counter() - wall
    out.put(tally)


def _totals(base: str, token: str) -> dict[str, int]:
    totals = {"stats": 0, "rows": 0, "waiting": 0}
    with api(base, token) as client:
        for deployment in DEPLOYMENTS:
            path = f"/api/v2/deployments/{deployment}"
            stats = client.get(f"{path}/serviceStats/").raise_for_status().json()
            drift = client.get(f"{path}/targetDrift/").raise_for_status().json()
            accuracy = client.get(f"{path}/accuracy/").raise_for_status().json()
            totals["stats"] += stats["metrics"]["totalRequests"]
            totals["rows"] += drift["sampleSize"]
            totals["waiting"] += accuracy["predictionsWithoutActuals"]
    return totals


def verify(base: str, token: str, ingest: Tally) -> str:
    """Totals through the query API against what was answered 202; exact unless some
    requests failed (a timed-out request may still have been folded)."""
    rows = ingest.accepted.get("inputs", 0) * ROWS
    want = {"stats": ingest.accepted.get("stats", 0), "rows": rows, "waiting": rows}
    got = _totals(base, token)
    exact = not ingest.failures
    wrong = [
        f"{key}: {want[key]} accepted, the service counts {got[key]}"
        for key in want
        if (got[key] != want[key] if exact else not want[key] <= got[key] <= want[key] * 2)
    ]
    if wrong:
        raise SystemExit("totals differ (missing or double-counted): " + "; ".join(wrong))
    return "exact" if exact else "within what was sent (some requests failed)"


def _jobs(clients: int, processes: int, readers: int) -> list[list[tuple[str, str]]]:
    run = uuid.uuid4().hex[:6]
    ingest: list[list[tuple[str, str]]] = [[] for _ in range(processes)]
    for n in range(clients):
        ingest[n % processes].append(("ingest", f"c{run}-{n}"))
    reading = [("read", kind) for kind in ("serviceStats", "version") for _ in range(readers)]
    return [*ingest, reading]


def run_load(base: str, token: str, args: argparse.Namespace) -> tuple[Tally, Tally, float]:
    """Ingest clients and readers in their own processes; their tallies and run seconds."""
    context = multiprocessing.get_context("fork")
    out: Any = context.Queue()
    start = time.time() + 3.0
    end = start + args.seconds
    jobs = _jobs(args.clients, args.processes, args.readers)
    times = (start, end, args.http)
    processes = [
        context.Process(target=load_process, args=(base, token, j, times, out)) for j in jobs
    ]
    for process in processes:
        process.start()
    tallies = []
    while len(tallies) < len(processes):
        try:
            tallies.append(out.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise SystemExit("a load process failed (see its traceback above)") from None
    for process in processes:
        process.join(30)
    ingest, reads = Tally(), Tally()
    for tally in tallies:
        (ingest if tally.role == "ingest" else reads).add(tally)
    return ingest, reads, end - start


def _row(name: str, latencies: list[float], seconds: float) -> str:
    if not latencies:
        return f"  {name:<26} {0:>9}"
    ms = np.asarray(latencies) * 1000
    p50, p99, top = np.percentile(ms, [50, 99, 100])
    return (
        f"  {name:<26} {len(ms):>9,} {len(ms) / seconds:>9,.0f} {p50:>8.1f} {p99:>8.1f} {top:>8.1f}"
    )


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used during the load (``wall`` seconds from its start to its end): the
    service, PostgreSQL, the whole machine."""

    service: float
    postgres: float
    machine: float
    wall: float = 0.0


def report(ingest: Tally, reads: Tally, seconds: float, cpu: Cpu, check: str) -> None:
    """Print the table, CPU use and targets of one backend."""
    print(f"  {'what':<26} {'answered':>9} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    every = [x for values in ingest.latencies.values() for x in values]
    print(_row("ingest, all (202)", every, seconds))
    print(_row(f"  predictionInputs {ROWS} rows", ingest.latencies.get("inputs", []), seconds))
    print(_row("  predictionRequests 1 item", ingest.latencies.get("stats", []), seconds))
    for kind in ("serviceStats", "version"):
        print(_row(f"read {kind}", reads.latencies.get(kind, []), seconds))
    failures = {**ingest.failures, **reads.failures}
    print(f"  failures: {failures or 'none'}; totals by the query API: {check}")
    load, served = ingest.cpu / ingest.wall, cpu.service / seconds
    per_request = ingest.cpu / max(1, len(every) + sum(ingest.failures.values()))
    busy = "SATURATED: figures are a lower bound" if load > 0.9 * ingest.processes else "no"
    print(
        f"  load generator: {load:.2f} cores in {ingest.processes} processes, "
        f"{per_request * 1e6:,.0f} us CPU per request (allows ~"
        f"{ingest.processes / per_request:,.0f} requests/s); saturated: {busy}; "
        f"service process {served:.2f} cores; machine {os.cpu_count()} cores"
    )
    span = cpu.wall or seconds
    database, busy_all = cpu.postgres / span, cpu.machine / span
    service_share = cpu.service / span
    others = max(0.0, busy_all - load - service_share - database)
    print(
        f"  machine: {busy_all:.2f} of {os.cpu_count()} cores busy (service {service_share:.2f}, "
        f"PostgreSQL {database:.2f}, load generator {load:.2f}, everything else {others:.2f})"
    )
    rate = len(every) / seconds
    p99 = max(
        (float(np.percentile(reads.latencies[k], 99)) * 1000 for k in reads.latencies), default=0.0
    )
    print(
        f"  targets: ingest {rate:,.0f} requests/s >= {TARGET_RATE:,}: "
        f"{'met' if rate >= TARGET_RATE else 'NOT met'}; reads p99 {p99:.0f} ms < "
        f"{TARGET_P99_MS:.0f} ms: {'met' if p99 < TARGET_P99_MS else 'NOT met'}"
    )


def bench_backend(backend: str, args: argparse.Namespace, workers: int = 1) -> float:
    """One fresh database and service (``workers`` processes); run the load; verify;
    print; return the ingest requests/s."""
    extra = ["--workers", str(workers)] if workers > 1 else []
    with fresh_database(backend) as url:
        create_deployments(url, DEPLOYMENTS)
        token = make_token(url)
        with serve(url, token, *extra) as service:
            start = Cpu(service.cpu_seconds(), postgres_cpu_seconds(), machine_busy_seconds())
            began = time.monotonic()
            ingest, reads, seconds = run_load(service.base, token, args)
            cpu = Cpu(
                service.cpu_seconds() - start.service,
                postgres_cpu_seconds() - start.postgres,
                machine_busy_seconds() - start.machine,
                time.monotonic() - began,
            )
            check = verify(service.base, token, ingest)
    print(f"\n{backend}" + (f", {workers} service processes:" if workers > 1 else ":"))
    report(ingest, reads, seconds, cpu, check)
    return sum(len(v) for v in ingest.latencies.values()) / seconds


def compare_workers(backend: str, args: argparse.Namespace) -> None:
    """Runs with each ``--workers`` count in turn, ``--repeat`` rounds; the medians and
    their ratios to the first count (target: 2 processes >= 1.6x one)."""
    rates: dict[int, list[float]] = {n: [] for n in args.workers}
    for _ in range(args.repeat):
        for workers in args.workers:
            rates[workers].append(bench_backend(backend, args, workers))
    first = args.workers[0]
    base = statistics.median(rates[first])
    print(f"\n{backend}: ingest requests/s by service processes (medians of {args.repeat})")
    for workers, values in rates.items():
        ratio = statistics.median(values) / base
        aim = ""
        if workers == 2 and first == 1:
            aim = f"; target >= {TARGET_WORKERS_RATIO}x: " + (
                "met" if ratio >= TARGET_WORKERS_RATIO else "NOT met"
            )
        shown = " / ".join(f"{v:,.0f}" for v in values)
        print(
            f"  {workers} process(es): {shown}  median {statistics.median(values):,.0f}  "
            f"{ratio:.2f}x{aim}"
        )


def main() -> None:
    """Parse arguments and run the chosen backends."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=40, help="concurrent ingest clients")
    parser.add_argument("--processes", type=int, default=2, help="load processes for them")
    parser.add_argument("--readers", type=int, default=2, help="readers per read kind")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the run")
    parser.add_argument(
        "--http", choices=sorted(CLIENTS), default="raw", help="load client (see keepalive.py)"
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="service processes (`serve --workers`); several counts run in turn, compared",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds when comparing --workers")
    args = parser.parse_args()
    if min(args.workers) < 1 or args.repeat < 1:
        parser.error("--workers counts and --repeat must be at least 1")
    print(
        f"{args.clients} ingest clients (threads in {args.processes} processes, one keep-alive "
        f"{args.http} HTTP/1.1 connection each) post alternately a {ROWS}-row predictionInputs "
        f"body with association ids and a "
        f"1-item predictionRequests body, distinct Idempotency-Keys, over {len(DEPLOYMENTS)} "
        f"deployments, for {args.seconds:g} s; meanwhile {args.readers} readers per kind GET "
        f"serviceStats and version every {READ_PAUSE * 1000:.0f} ms. `spoolwatch serve` in its "
        f"own process, auth on, fresh database; latencies are per request, client side."
    )
    for backend in args.only or ["sqlite", "postgresql"]:
        if backend == "postgresql" and (why := postgres_answers()) is not None:
            print(f"\npostgresql: skipped ({why})")
            continue
        if len(args.workers) > 1:
            compare_workers(backend, args)
        else:
            bench_backend(backend, args, args.workers[0])


if __name__ == "__main__":
    main()
