"""Configuration of the RabbitMQ spool: the typed config object and address parsing.

Pure (no pika): the spool module turns this into connection parameters.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from spoolwatch.errors import ConfigError

__all__ = ["TLS_VERSIONS", "RabbitMQConfig", "config_from_url", "mask_url"]

TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for names, logs and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@dataclass(frozen=True, kw_only=True)
class RabbitMQConfig:
    """Where and how to reach the queue. TLS options mirror DataRobot's library."""

    url: str = "amqp://guest:guest@localhost:5672/%2F"
    queue: str
    prefetch: int = 500
    #: TLS: CA bundle to verify the broker; client certificate and key for mutual TLS.
    ca_certificate_path: str | None = None
    certificate_path: str | None = None
    keyfile_path: str | None = None
    #: Lowest TLS version accepted: ``TLSv1.2`` (default) or ``TLSv1.3``.
    tls_version: str | None = None
    #: Heartbeat interval in seconds; ``None`` accepts the broker's proposal.
    heartbeat: int | None = None
    #: Connection attempts per (re)connect and the pause between them (seconds).
    connection_attempts: int = 3
    retry_delay: float = 1.0
    #: How often one operation reconnects after losing the connection before it gives up.
    reconnect_attempts: int = 3
    #: Seconds to wait for the broker to confirm a batch of published records.
    confirm_timeout: float = 30.0
    #: Dead-letter queue; default ``<queue>.quarantine``.
    quarantine_queue: str | None = None
    #: Shown by the broker for this connection (``rabbitmqctl list_connections``).
    connection_name: str | None = None

    def __post_init__(self) -> None:
        scheme = urlsplit(self.url).scheme.lower()
        if scheme not in {"amqp", "amqps"}:
            raise ConfigError(f"RabbitMQ url must start with amqp:// or amqps://, got {scheme!r}")
        if not self.queue or len(self.queue.encode("utf-8")) > 255:
            raise ConfigError("RabbitMQ queue name must be 1 to 255 bytes long")
        if not 0 < self.prefetch <= 65535:
            raise ConfigError(f"RabbitMQ prefetch must be 1..65535, got {self.prefetch}")
        if (self.certificate_path is None) != (self.keyfile_path is None):
            raise ConfigError(
                "RabbitMQ mutual TLS needs both certificate_path and keyfile_path, or neither"
            )
        if self.tls_version is not None and self.tls_version not in TLS_VERSIONS:
            raise ConfigError(
                f"RabbitMQ tls_version must be one of {sorted(TLS_VERSIONS)}, "
                f"got {self.tls_version!r}"
            )
        if self.connection_attempts < 1 or self.reconnect_attempts < 0:
            raise ConfigError("RabbitMQ connection_attempts must be >= 1, reconnect >= 0")

    @property
    def dead_letter_queue(self) -> str:
        """The quarantine queue's name."""
        return self.quarantine_queue or f"{self.queue}.quarantine"

    @property
    def uses_tls(self) -> bool:
        """TLS for ``amqps://`` or whenever a certificate path is given."""
        return urlsplit(self.url).scheme.lower() == "amqps" or any(
            (self.ca_certificate_path, self.certificate_path, self.keyfile_path)
        )

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context: CA bundle, client certificate for mutual TLS, lowest version."""
        try:
            context = ssl.create_default_context(cafile=self.ca_certificate_path)
            if self.certificate_path and self.keyfile_path:
                context.load_cert_chain(self.certificate_path, self.keyfile_path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"RabbitMQ TLS files cannot be loaded: {exc}") from exc
        context.minimum_version = TLS_VERSIONS[self.tls_version or "TLSv1.2"]
        return context


def config_from_url(address: str, **options: Any) -> RabbitMQConfig:
    """``amqp(s)://user:pass@host:port/vhost?queue=NAME`` (or ``queue=`` as an option)."""
    parts = urlsplit(address)
    query = parse_qsl(parts.query, keep_blank_values=True)
    queue_values = [unquote(value) for key, value in query if key == "queue"]
    rest = [(key, value) for key, value in query if key != "queue"]
    queue = options.pop("queue", None)
    if queue_values:
        if queue is not None and queue != queue_values[-1]:
            raise ConfigError(
                f"RabbitMQ queue given twice: {queue_values[-1]!r} in the URL and {queue!r}"
            )
        queue = queue_values[-1]
    if not queue:
        raise ConfigError(f"RabbitMQ address {mask_url(address)} names no queue (add ?queue=NAME)")
    url = urlunsplit(parts._replace(query=urlencode(rest)))
    try:
        return RabbitMQConfig(url=url, queue=str(queue), **options)
    except TypeError as exc:
        raise ConfigError(f"unknown RabbitMQ spool option: {exc}") from None
