"""Agent throughput: records/s and prediction rows/s from a spool into an HTTP destination.

The destination is :class:`spoolwatch.sinks.testing.RecordingServer` on 127.0.0.1 in a
separate process, only counting (so it does not share the agent's interpreter). Each record
is a PREDICTIONS_DATA record with 25 rows (3 features, predictions, association ids), the
shape DataRobot's library writes for SQS-sized messages. Setup (writing the spool) is not
timed; the timed part is one agent process draining the spool until empty, with default
settings (500 records per read, up to 100 records merged per request). Rates are records
delivered divided by the time from the agent's start to the last request the destination
accepted; with ``until_empty`` the agent then needs one empty read (``wait_seconds``, 0.5 s)
before it exits, which is shown separately. Besides wall-clock
rates it prints records per CPU-second of the agent process, which says more than the
wall clock on a machine shared with other work::

    .venv/bin/python bench/agent_throughput.py                    # filesystem and RabbitMQ
    .venv/bin/python bench/agent_throughput.py --only filesystem --records 100000
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.testing import RecordingServer
from spoolwatch.spools.registry import open_spool

ROWS = 25


def _serve(pipe: Connection) -> None:
    server = RecordingServer(keep=False).start()
    pipe.send(server.url)
    while True:
        command = pipe.recv()
        if command == "count":
            pipe.send((server.records, server.count, server.last_accepted_at))
        else:
            server.stop()
            return


def _records(count: int) -> list[Record]:
    rng = random.Random(7)
    records = []
    for n in range(count):
        payload: dict[str, Any] = {
            "timestamp": "2026-11-24 20:01:33.377+0100",
            "modelId": "650a1b2c3d4e5f6a7b8c9d0f",
            "features": {
                "age": [round(rng.uniform(18, 90), 1) for _ in range(ROWS)],
                "region": [rng.choice(["north", "south", "east", "west"]) for _ in range(ROWS)],
                "num_purchases": [rng.randrange(50) for _ in range(ROWS)],
            },
            "predictions": [round(rng.random(), 4) for _ in range(ROWS)],
            "associationIds": [f"r-{n}-{i}" for i in range(ROWS)],
        }
        records.append(Record.new(DataType.PREDICTIONS_DATA, "650a1b2c3d4e5f6a7b8c9d0e", payload))
    return records


def _fill(address: str, records: list[Record]) -> None:
    spool = open_spool(address)
    for start in range(0, len(records), 1000):
        spool.write(records[start : start + 1000])
    spool.close()


def _drain(url: str, address: str, pipe: Connection, expected: int) -> dict[str, float]:
    config = AgentConfig(
        target=TargetConfig(url=url),
        channels=[ChannelConfig(name="bench", address=address)],
        heartbeat=False,
        stats_interval_seconds=60,
    )
    started, cpu_started = time.monotonic(), time.process_time()
    with Agent(config) as agent:
        result = agent.run(until_empty=True)
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu_started
    pipe.send("count")
    received, requests, last_accepted = pipe.recv()
    if result.records_sent != expected or received != expected:
        raise SystemExit(
            f"expected {expected} records, agent sent {result.records_sent}, "
            f"destination counted {received}"
        )
    return {
        "seconds": seconds,
        "cpu": cpu,
        "records": expected,
        "requests": requests,
        "delivered": last_accepted - started,
        "records_per_s": expected / (last_accepted - started),
        "rows_per_s": expected * ROWS / (last_accepted - started),
    }


def _run(name: str, address: str, count: int) -> None:
    records = _records(count)
    _fill(address, records)
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()
    try:
        figures = _drain(url, address, parent, count)
    finally:
        parent.send("stop")
        server.join(10)
    print(
        f"{name:<11} {figures['records']:>8,} records delivered in {figures['delivered']:5.2f} s "
        f"(agent exited after {figures['seconds']:5.2f} s)  "
        f"{figures['records_per_s']:>9,.0f} records/s  {figures['rows_per_s']:>11,.0f} "
        f"rows/s  ({figures['requests']:,.0f} requests; agent CPU {figures['cpu']:.2f} s = "
        f"{figures['records'] / figures['cpu']:,.0f} records per CPU-second)",
        flush=True,
    )


def main() -> None:
    """Parse arguments and run the chosen benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["filesystem", "rabbitmq"], action="append")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    args = parser.parse_args()
    chosen = args.only or ["filesystem", "rabbitmq"]
    print(
        f"agent throughput, {ROWS}-row prediction records, one agent process "
        f"(python {sys.version.split()[0]})"
    )
    if "filesystem" in chosen:
        with tempfile.TemporaryDirectory(prefix="spoolwatch-bench-") as directory:
            _run("filesystem", directory, args.records)
    if "rabbitmq" in chosen:
        queue = f"spoolwatch-bench-{uuid.uuid4().hex[:8]}"
        address = f"{args.rabbitmq_url}?queue={queue}"
        try:
            _run("rabbitmq", address, args.records)
        finally:
            spool: Any = open_spool(address)
            spool.delete_queues()
            spool.close()


if __name__ == "__main__":
    main()
