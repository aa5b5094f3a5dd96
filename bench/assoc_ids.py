"""Association ids' cost: prediction rows/s with association ids against the same rows without.

The rows are the demo model's (8 numeric and 3 categorical features, binary probabilities
with class names), in ``predictionInputs`` bodies of ``--rows`` rows (default 1,000, what the
agent makes of 40 merged 25-row records); ``--bodies`` bodies per run (default 60). The
*with* bodies are the *without* bodies plus ``associationIds``, so the service also keeps one
accuracy row per prediction. Two ways in, per store (SQLite file; PostgreSQL on 127.0.0.1
when it answers), each run in a fresh database with the deployment's drift baseline:

* ``fold``: :class:`~spoolwatch.server.ingestion.Ingestor` called in-process, bodies one
  after another (validate, bin against the baseline, upsert aggregates, accuracy rows);
* ``http``: the same bodies posted one after another by one keep-alive client to
  ``spoolwatch serve`` in another process (auth on).

Building bodies is not timed. Runs alternate without/with ``--repeat`` times (default 2);
the ratio is of the medians. For SQLite a ``floor`` line follows: what SQLite alone takes to
store one row per association id (the store's table, keys and pragmas, parameters built
beforehand), and so the highest ratio any fold could reach. Target: with >= 0.7x without::

    .venv/bin/python bench/assoc_ids.py                     # SQLite and PostgreSQL
    .venv/bin/python bench/assoc_ids.py --only sqlite --bodies 30 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import orjson

from real_stream import DEPLOYMENTS, MODEL, Traffic, create_deployments
from served import api, fresh_database, make_token, postgres_answers, serve
from spoolwatch.demo.model import CLASS_NAMES
from spoolwatch.server.ingestion import IngestKind, Ingestor
from spoolwatch.store.base import open_store

DEPLOYMENT = DEPLOYMENTS[0]
PATH = f"/api/v2/deployments/{DEPLOYMENT}/predictionInputs/fromJSON/"
TARGET_RATIO = 0.7


def bodies(count: int, rows: int, with_ids: bool) -> list[bytes]:
    """``count`` bodies of ``rows`` rows; association ids unique over the run when asked."""
    traffic = Traffic(count * rows // 25 + 1)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S.000+0000", time.gmtime())
    result = []
    for n in range(count):
        start, end = n * rows, (n + 1) * rows
        item = {
            "timestamp": stamp,
            "modelId": MODEL,
            "features": [{"name": k, "values": v[start:end]} for k, v in traffic.features.items()],
            "predictions": traffic.probabilities[start:end],
            "classNames": list(CLASS_NAMES),
        }
        if with_ids:
            item["associationIds"] = [f"a{n:05d}-{row:05d}" for row in range(rows)]
        result.append(orjson.dumps({"data": [item]}))
    return result


def fold(url: str, payloads: list[bytes]) -> tuple[int, float]:
    """Rows folded in-process and the seconds it took."""
    store = open_store(url)
    try:
        ingestor = Ingestor(store)
        started = time.perf_counter()
        rows = sum(
            ingestor.ingest(IngestKind.PREDICTION_INPUTS, DEPLOYMENT, body).rows
            for body in payloads
        )
        return rows, time.perf_counter() - started
    finally:
        store.close()


def sqlite_floor(url: str, payloads: list[bytes]) -> float:
    """Seconds SQLite alone takes to store the bodies' accuracy rows: the same multi-row
    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` into the store's ``accuracy_rows`` (its
    keys and index), the same pragmas, one transaction per body, parameters built before
    the clock starts. No fold of any kind can store a row per association id for less."""
    import sqlite3

    from spoolwatch.store.accuracy_columns import prediction_columns
    from spoolwatch.store.deployments import get_deployment

    store = open_store(url)
    deployment = get_deployment(store, DEPLOYMENT)
    store.close()
    assert deployment is not None
    batches = []
    for body in payloads:
        item = orjson.loads(body)["data"][0]
        values, _ = prediction_columns(deployment, item["predictions"], item["classNames"])
        rows = list(zip(item["associationIds"], values, strict=True))
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            flat: list[object] = [DEPLOYMENT]
            for aid, value in chunk:
                flat += [aid, MODEL, 1_800_000_000, value]
            batches.append((start == 0, len(chunk), flat))
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-32768"):
        conn.execute(f"PRAGMA {pragma}")
    head = "INSERT INTO accuracy_rows (deployment_id, association_id, model_id, "
    head += "predicted_at, predicted_value) SELECT ?, * FROM (VALUES "
    tail = ") WHERE true ON CONFLICT (deployment_id, association_id) DO NOTHING "
    tail += "RETURNING association_id"
    started = time.perf_counter()
    for first, count, flat in batches:
        if first and conn.in_transaction:
            conn.execute("COMMIT")
        if first:
            conn.execute("BEGIN IMMEDIATE")
        conn.execute(head + ", ".join(["(?, ?, ?, ?)"] * count) + tail, flat).fetchall()
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def http(url: str, payloads: list[bytes]) -> tuple[int, float]:
    """Rows posted to ``spoolwatch serve`` one body after another, and the seconds it took."""
    token = make_token(url)
    with serve(url, token) as service, api(service.base, token, timeout=120) as client:
        headers = {"Content-Type": "application/json"}
        started = time.perf_counter()
        for n, body in enumerate(payloads):
            answer = client.post(PATH, content=body, headers={**headers, "Idempotency-Key": f"{n}"})
            if answer.status_code != 202:
                raise SystemExit(f"body {n}: HTTP {answer.status_code} {answer.text[:500]}")
        seconds = time.perf_counter() - started
        drift = client.get(f"/api/v2/deployments/{DEPLOYMENT}/targetDrift/").json()
    return int(drift["sampleSize"]), seconds


def run(backend: str, way: str, payloads: list[bytes]) -> float:
    """Rows/s of one run in a fresh database; fails when rows went missing."""
    with fresh_database(backend) as url:
        create_deployments(url, [DEPLOYMENT])
        rows, seconds = (fold if way == "fold" else http)(url, payloads)
    expected = sum(len(orjson.loads(b)["data"][0]["predictions"]) for b in payloads)
    if rows != expected:
        raise SystemExit(f"{backend} {way}: sent {expected} rows, the service counted {rows}")
    return rows / seconds


def bench_backend(
    backend: str, args: argparse.Namespace, payloads: dict[bool, list[bytes]]
) -> None:
    """Alternate without/with for each way in; print medians and the ratio."""
    for way in ("fold", "http"):
        rates: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeat):
            for with_ids in (False, True):
                rates[with_ids].append(run(backend, way, payloads[with_ids]))
        plain, with_ids = statistics.median(rates[False]), statistics.median(rates[True])
        ratio = with_ids / plain
        print(
            f"{backend:<10} {way:<5} {plain:>13,.0f} {with_ids:>12,.0f} {ratio:>8.2f}x  "
            f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}",
            flush=True,
        )
        if backend == "sqlite" and way == "fold":
            _print_floor(args, payloads[True], plain)


def _print_floor(args: argparse.Namespace, payloads: list[bytes], plain: float) -> None:
    """SQLite's own cost of a row per association id, and the ratio it leaves at most."""
    floors = []
    for _ in range(args.repeat):
        with fresh_database("sqlite") as url:
            create_deployments(url, [DEPLOYMENT])
            floors.append(sqlite_floor(url, payloads) / (len(payloads) * args.rows))
    floor_us, plain_us = statistics.median(floors) * 1e6, 1e6 / plain
    print(
        f"{'':<10} floor: SQLite alone stores a row by association id in {floor_us:.2f} us; "
        f"the fold without ids takes {plain_us:.2f} us a row, so with ids can reach at most "
        f"{plain_us / (plain_us + floor_us):.2f}x",
        flush=True,
    )


def main() -> None:
    """Parse arguments, build the bodies, run the chosen backends."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bodies", type=int, default=60, help="bodies per run")
    parser.add_argument("--rows", type=int, default=1_000, help="rows per body")
    parser.add_argument("--repeat", type=int, default=2, help="without/with pairs per way in")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    payloads = {flag: bodies(args.bodies, args.rows, flag) for flag in (False, True)}
    print(
        f"{args.bodies} bodies x {args.rows:,} rows = {args.bodies * args.rows:,} prediction rows "
        f"per run (8 numeric + 3 categorical features, binary); medians of {args.repeat} runs; "
        f"target: with ids >= {TARGET_RATIO}x without"
    )
    print(f"{'backend':<10} {'way':<5} {'rows/s no ids':>13} {'rows/s ids':>12} {'ratio':>9}")
    for backend in args.only or ["sqlite", "postgresql"]:
        if backend == "postgresql" and (why := postgres_answers()) is not None:
            print(f"postgresql: skipped ({why})")
            continue
        bench_backend(backend, args, payloads)


if __name__ == "__main__":
    main()
