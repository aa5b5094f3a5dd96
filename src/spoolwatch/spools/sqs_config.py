"""Configuration of the SQS spool: the typed config object, SQS limits, address parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from spoolwatch.errors import ConfigError

__all__ = [
    "DEFAULT_GROUP",
    "MAX_BATCH",
    "MAX_VISIBILITY",
    "MAX_WAIT",
    "SQS_MAX_BYTES",
    "SqsConfig",
    "config_from_url",
]

MAX_BATCH = 10
SQS_MAX_BYTES = 1_048_576
MAX_WAIT = 20
MAX_VISIBILITY = 43_200
DEFAULT_GROUP = "AAAAAAAA"

AWS_HOST = re.compile(r"^(?:sqs[.-](?P<a>[a-z0-9-]+)|(?P<b>[a-z0-9-]+)\.queue)\.amazonaws\.")


@dataclass(frozen=True, kw_only=True)
class SqsConfig:
    """Which queue and how to talk to it. ``queue_url`` wins over ``queue_name``."""

    queue_url: str | None = None
    queue_name: str | None = None
    region: str | None = None
    #: ``None`` = boto3's own resolution (``AWS_ENDPOINT_URL``, then AWS).
    endpoint_url: str | None = None
    #: Longest long poll of one ReceiveMessage call (0..20 s).
    wait_time_seconds: int = MAX_WAIT
    #: Visibility timeout given to received messages; ``None`` = the queue's default.
    visibility_timeout: int | None = None
    dead_letter_queue_url: str | None = None
    #: FIFO MessageGroupId; default: the deployment id of the first record written.
    message_group_id: str | None = None
    #: How often entries reported as failed are sent (or deleted) before giving up.
    attempts: int = 4

    def __post_init__(self) -> None:
        if not (self.queue_url or self.queue_name):
            raise ConfigError("SQS spool needs queue_url or queue_name")
        if not 0 <= self.wait_time_seconds <= MAX_WAIT:
            raise ConfigError(f"SQS wait_time_seconds must be 0..20, got {self.wait_time_seconds}")
        vt = self.visibility_timeout
        if vt is not None and not 0 <= vt <= MAX_VISIBILITY:
            raise ConfigError(f"SQS visibility_timeout must be 0..43200, got {vt}")
        if self.attempts < 1:
            raise ConfigError("SQS attempts must be at least 1")

    @property
    def short_name(self) -> str:
        """The queue's name (last path part of the URL, or the name given)."""
        if self.queue_url:
            return self.queue_url.rstrip("/").rsplit("/", 1)[-1]
        return str(self.queue_name)

    @property
    def fifo(self) -> bool:
        """FIFO iff the name ends in ``.fifo``, as AWS requires."""
        return self.short_name.endswith(".fifo")


def config_from_url(address: str, **options: Any) -> SqsConfig:
    """``sqs://NAME``, ``https://sqs.<region>.amazonaws.com/<account>/<name>``, or a queue
    URL of another endpoint (``http://127.0.0.1:PORT/<account>/<name>``, e.g. moto)."""
    parts = urlsplit(address)
    if parts.query or parts.fragment:
        raise ConfigError(f"SQS address {address!r} must not have a query; pass options instead")
    if parts.scheme == "sqs":
        name = (parts.netloc + parts.path).strip("/")
        if not name or "/" in name:
            raise ConfigError(f"SQS address {address!r} must be sqs://QUEUE_NAME")
        options.setdefault("queue_name", name)
    elif parts.scheme in {"http", "https"} and parts.path.strip("/"):
        options.setdefault("queue_url", address)
        match = AWS_HOST.match(parts.hostname or "")
        if match:
            options.setdefault("region", match.group("a") or match.group("b"))
        else:
            options.setdefault("endpoint_url", f"{parts.scheme}://{parts.netloc}")
    else:
        raise ConfigError(f"not an SQS address: {address!r} (use sqs://NAME or a queue URL)")
    try:
        return SqsConfig(**options)
    except TypeError as exc:
        raise ConfigError(f"unknown SQS spool option: {exc}") from None
