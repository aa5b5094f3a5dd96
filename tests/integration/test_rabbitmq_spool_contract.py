"""The shared spool contract, run against the real RabbitMQ broker on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from spoolwatch.spools.base import Spool
from spoolwatch.spools.rabbitmq import RabbitMQConfig, RabbitMQSpool
from tests.spool_contract import SpoolContract

pytestmark = pytest.mark.rabbitmq


class TestRabbitMQSpoolContract(SpoolContract):
    """A fresh durable queue per test, deleted afterwards."""

    @pytest.fixture
    def open_spool(self, rabbitmq_url: str) -> Iterator[Callable[[], Spool]]:
        config = RabbitMQConfig(url=rabbitmq_url, queue=f"spoolwatch-contract-{uuid.uuid4().hex}")
        yield lambda: RabbitMQSpool(config)
        RabbitMQSpool(config).delete_queues()

    @pytest.fixture
    def put_undecodable(self) -> Callable[[Spool, bytes], None]:
        def put(spool: Spool, raw: bytes) -> None:
            assert isinstance(spool, RabbitMQSpool)
            spool.write_raw([raw])

        return put
