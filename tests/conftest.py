"""Shared fixtures: real services on 127.0.0.1 and moto's server mode for AWS.

A test that needs a service skips with a reason when the service is absent locally and
fails when ``CI=true``: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Real output of DataRobot's library 11.2.62, kept with the tests: a clone needs nothing else.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "datarobot-mlops-11.2.62"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_service(name: str, port: int) -> None:
    """Skip (locally) or fail (under CI=true) when a service does not answer."""
    if port_answers(port):
        return
    message = f"{name} does not answer on 127.0.0.1:{port}"
    if IN_CI:
        pytest.fail(message + " (CI must run this test)")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real output of DataRobot's library (``tests/fixtures/...``)."""
    if not FIXTURES.is_dir():
        pytest.fail(f"fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """AMQP URL of the real RabbitMQ on 127.0.0.1:5672."""
    need_service("RabbitMQ", 5672)
    return "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the real PostgreSQL on 127.0.0.1:5432, database ``test``."""
    need_service("PostgreSQL", 5432)
    return "postgresql+psycopg://postgres@127.0.0.1:5432/test"


_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


def _atomic_dynamodb_writes() -> None:
    """Make moto's DynamoDB check a write's condition and make the write under one lock, as
    DynamoDB does: moto's threaded server evaluates a ``ConditionExpression`` and applies
    the write as separate steps, so two racing conditional writes could both succeed there
    (and the tests of racing agents and switches would see a winner too many)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_spoolwatch_atomic", False):
        return
    lock = threading.RLock()
    for name in _DYNAMODB_WRITES:
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    DynamoDBBackend._spoolwatch_atomic = True  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1; yields its endpoint URL and points boto3 at it."""
    from moto.server import ThreadedMotoServer

    _atomic_dynamodb_writes()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
    )
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
)
