"""Open a spool from a URL or path: the one place that maps addresses to transports.

=================================================  ==========================================
address                                            transport
=================================================  ==========================================
``/var/spool/mlops``, ``file:///var/spool/mlops``  filesystem directory
``sqs://queue-name``, ``https://sqs.<region>...``  SQS (``http(s)://`` URLs with ``/queue/``
                                                   or an AWS SQS host are queue URLs)
``amqp://user:pass@host:5672/vhost?queue=name``    RabbitMQ (``amqps://`` for TLS)
``memory://name``                                  in-process memory spool
=================================================  ==========================================
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from spoolwatch.errors import ConfigError
from spoolwatch.spools.base import Spool

__all__ = ["open_spool", "transport_of"]

_MODULES = {
    "filesystem": "spoolwatch.spools.filesystem",
    "sqs": "spoolwatch.spools.sqs",
    "rabbitmq": "spoolwatch.spools.rabbitmq",
    "memory": "spoolwatch.spools.memory",
}


def transport_of(address: str) -> str:
    """Which transport an address names; raises :class:`ConfigError` for unknown schemes."""
    if "://" not in address:
        return "filesystem"
    scheme = urlsplit(address).scheme.lower()
    if scheme == "file":
        return "filesystem"
    if scheme in {"amqp", "amqps"}:
        return "rabbitmq"
    if scheme == "memory":
        return "memory"
    if scheme == "sqs":
        return "sqs"
    if scheme in {"http", "https"}:
        parts = urlsplit(address)
        if "sqs" in (parts.hostname or "") or "/queue/" in parts.path or parts.path.count("/") >= 2:
            return "sqs"
    raise ConfigError(
        f"cannot tell the spool transport of {address!r}: use a directory path, file://, "
        "sqs://NAME or an SQS queue URL, amqp(s)://...?queue=NAME, or memory://NAME"
    )


def open_spool(address: str, **options: Any) -> Spool:
    """Open the spool at ``address``; ``options`` go to the transport's ``from_url``."""
    module = importlib.import_module(_MODULES[transport_of(address)])
    spool: Spool = module.from_url(address, **options)
    return spool
