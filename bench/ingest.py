"""Ingestion throughput: prediction rows/s folded into the service's hourly aggregates.

Two figures per store (SQLite file, and PostgreSQL on 127.0.0.1 when it answers):

* ``fold``: the service's :class:`~spoolwatch.server.ingestion.Ingestor` called in-process
  with ready ``predictionInputs`` bodies (parse, validate, bin every feature against the
  baseline, upsert the hourly aggregate) — the ceiling without HTTP;
* ``agent→service``: the agent's HTTP sink posting PREDICTIONS_DATA records to
  ``spoolwatch serve`` running in another process (uvicorn, auth on), records merged into
  requests as the agent does.

Records carry 10 features (8 numeric, 2 categorical) and ``--rows`` rows each (default
1 000), no association ids. Building records is not timed::

    .venv/bin/python bench/ingest.py                   # SQLite and PostgreSQL
    .venv/bin/python bench/ingest.py --only sqlite --records 400
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import numpy as np
import orjson

from spoolwatch.records import DataType, Record
from spoolwatch.server.ingestion import IngestKind, Ingestor
from spoolwatch.sinks.config import BatchingConfig, TargetConfig
from spoolwatch.sinks.http import HttpSink
from spoolwatch.store.base import open_store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import create_deployment
from spoolwatch.store.tokens import create_token
from spoolwatch.store.training import baseline_from_frame

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
NUMERIC = [f"n{i}" for i in range(8)]
CATEGORICAL = ["region", "channel"]


def _columns(rng: np.random.Generator, rows: int, shift: float = 0.0) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        name: np.round(rng.normal(shift, 1.0, rows), 3).tolist() for name in NUMERIC
    }
    columns["region"] = rng.choice(["north", "south", "east", "west"], rows).tolist()
    columns["channel"] = rng.choice(["web", "store", "phone"], rows).tolist()
    return columns


def _deployment(url: str) -> None:
    import pandas as pd

    store = open_store(url)
    frame = pd.DataFrame(_columns(np.random.default_rng(1), 10_000))
    frame["y"] = np.random.default_rng(2).normal(0, 1, 10_000)
    baseline, _ = baseline_from_frame(frame, target="y", target_type="regression")
    create_deployment(
        store,
        Deployment(
            id=DEP,
            name="bench",
            model_id=MODEL,
            target_type="regression",
            target_name="y",
            baseline=baseline,
        ),
    )
    store.close()


def _records(count: int, rows: int) -> list[Record]:
    rng = np.random.default_rng(7)
    records = []
    for _ in range(count):
        payload = {
            "timestamp": "2026-11-24 20:01:33.377+0100",
            "modelId": MODEL,
            "features": _columns(rng, rows, shift=0.1),
            "predictions": np.round(rng.normal(0, 1, rows), 4).tolist(),
        }
        records.append(Record.new(DataType.PREDICTIONS_DATA, DEP, payload))
    return records


def _body(record: Record) -> bytes:
    item = {
        **record.payload,
        "features": [{"name": k, "values": v} for k, v in record.payload["features"].items()],
    }
    return orjson.dumps({"data": [item]})


def bench_fold(url: str, records: list[Record]) -> float:
    """Rows/s through the Ingestor in-process."""
    store = open_store(url)
    ingestor = Ingestor(store)
    bodies = [_body(r) for r in records]
    rows = 0
    started = time.perf_counter()
    for body in bodies:
        rows += ingestor.ingest(IngestKind.PREDICTION_INPUTS, DEP, body).rows
    elapsed = time.perf_counter() - started
    store.close()
    return rows / elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the service exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the service did not start within 30 s")


def bench_http(url: str, records: list[Record], per_request: int) -> float:
    """Rows/s from the agent's HTTP sink into ``spoolwatch serve`` in another process."""
    store = open_store(url)
    _, token = create_token(store, f"bench-{uuid.uuid4().hex[:6]}")
    store.close()
    port = _free_port()
    env = {**os.environ, "SPOOLWATCH_MAX_BODY_BYTES": str(64 * 1024 * 1024)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spoolwatch",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        _wait(port, process)
        from spoolwatch.sinks.secrets import Secret

        sink = HttpSink(
            TargetConfig(
                url=f"http://127.0.0.1:{port}", api_token=Secret(token), timeout_seconds=120
            ),
            BatchingConfig(max_request_bytes=32 * 1024 * 1024, max_records_per_request=per_request),
        )
        started = time.perf_counter()
        rows = 0
        for start in range(0, len(records), 500):
            result = sink.send(records[start : start + 500])
            if result.failure is not None or result.rejected:
                raise RuntimeError(f"send failed: {result.failure or result.rejected}")
            rows += result.rows
        elapsed = time.perf_counter() - started
        sink.close()
        return rows / elapsed
    finally:
        process.terminate()
        process.wait(timeout=30)


def _postgres_url() -> str | None:
    try:
        import psycopg

        name = f"spoolwatch_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/test", autocommit=True, connect_timeout=2
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:5432/{name}"
    except Exception as exc:  # the benchmark reports a missing server and goes on
        print(f"postgresql: skipped ({type(exc).__name__}: {exc})")
        return None


def _drop(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Parse arguments, run, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=300, help="records per run")
    parser.add_argument("--rows", type=int, default=1000, help="rows per record")
    parser.add_argument(
        "--per-request", type=int, default=10, help="records merged into one request by the agent"
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    records = _records(args.records, args.rows)
    total = args.records * args.rows
    print(
        f"{args.records} records x {args.rows} rows = {total} rows of 10 features; "
        f"agent merges {args.per_request} records per request"
    )
    for backend in args.only or ["sqlite", "postgresql"]:
        for phase in ("fold", "agent->service"):
            if backend == "sqlite":
                folder = tempfile.mkdtemp(prefix="spoolwatch-bench-")
                url: str | None = f"sqlite:///{folder}/bench.db"
            else:
                url = _postgres_url()
                if url is None:
                    break
            assert url is not None
            try:
                _deployment(url)
                if phase == "fold":
                    rate = bench_fold(url, records)
                else:
                    rate = bench_http(url, records, args.per_request)
            finally:
                if backend == "postgresql":
                    _drop(url)
            print(f"{backend:10s} {phase:15s} {rate:12,.0f} rows/s")


if __name__ == "__main__":
    main()
