"""Records per second written and read+acked, per spool, with 25-row prediction records.

Usage: ``python bench/spool_throughput.py [--records N] [--rabbitmq-url URL]``. Pinned to one
core (the aim is per core). SQS is left out: moto's SQS is far too slow to measure (the
simulator models SQS instead). RabbitMQ is skipped, with a note, when it does not answer.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from spoolwatch.records import DataType, Record
from spoolwatch.spools import Spool
from spoolwatch.spools.filesystem import FilesystemSpool
from spoolwatch.spools.memory import MemorySpool

ROWS = 25
FEATURES = 10


def make_records(count: int, features_per_row: int = FEATURES) -> list[Record]:
    """``count`` PREDICTIONS_DATA records of 25 rows, as the Reporter writes them."""
    features = {
        f"f{j}": [float(i * j % 97) / 7 for i in range(ROWS)] for j in range(features_per_row)
    }
    payload = {
        "timestamp": "2026-11-25 10:00:00.000+0000",
        "modelId": "650a1b2c3d4e5f6a7b8c9d0f",
        "features": features,
        "predictions": [0.5 + i / 100 for i in range(ROWS)],
        "associationIds": [f"r-{i}" for i in range(ROWS)],
    }
    return [
        Record.new(DataType.PREDICTIONS_DATA, "650a1b2c3d4e5f6a7b8c9d0e", payload)
        for _ in range(count)
    ]


def measure(name: str, open_spool: Callable[[], Spool], batch: list[Record], count: int) -> None:
    """Write ``count`` records (the batch of 100 again and again, as a model reports new
    records without keeping old ones), then read and ack them all (batches of 500)."""
    writer = open_spool()
    started = time.perf_counter()
    for _ in range(count // len(batch)):
        writer.write(batch)
    write_seconds = time.perf_counter() - started
    writer.close()

    reader = open_spool()
    taken = 0
    started = time.perf_counter()
    while taken < count:
        batch = reader.read(500, wait=1.0)
        if not batch:
            break
        reader.ack(batch)
        taken += len(batch)
    read_seconds = time.perf_counter() - started
    reader.close()
    n = count
    print(
        f"{name:<22} write {n / write_seconds:>9,.0f} records/s   "
        f"read+ack {taken / read_seconds:>9,.0f} records/s   ({taken:,} of {n:,} read)"
    )


def rabbitmq_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 1):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=FEATURES, help="feature columns")
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    options = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    count = options.records - options.records % 100
    batch = make_records(100, options.features)
    print(f"{count:,} records of {ROWS} rows x {options.features} features, one core")
    with tempfile.TemporaryDirectory() as tmp:
        for data_format in ("JSON", "BYTE_ARRAY"):
            directory = os.path.join(tmp, data_format)
            os.makedirs(directory)
            measure(
                f"filesystem {data_format.lower()}",
                lambda d=directory, f=data_format: FilesystemSpool(d, data_format=f),
                batch,
                count,
            )
    name = f"bench-{uuid.uuid4().hex[:8]}"
    measure("memory", lambda: MemorySpool(name), batch, count)
    if rabbitmq_answers(options.rabbitmq_url):
        from spoolwatch.spools.rabbitmq import from_url

        queue = f"spoolwatch-bench-{uuid.uuid4().hex[:8]}"
        address = f"{options.rabbitmq_url}?queue={queue}"
        measure("rabbitmq", lambda: from_url(address), batch, count)
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(options.rabbitmq_url))
        connection.channel().queue_delete(queue)
        connection.close()
    else:
        print("rabbitmq               skipped: nothing answers at", options.rabbitmq_url)


if __name__ == "__main__":
    main()
