"""One connection to the RabbitMQ broker and its publishing channel, for the RabbitMQ spool.

* :func:`translate` is the one place where pika's exceptions become spoolwatch's: a refused
  login, virtual host, access or precondition is :class:`~spoolwatch.errors.ConfigError`,
  anything else :class:`~spoolwatch.errors.SpoolUnavailable`.
* :class:`BrokerConnection` opens the connection on first use (declaring the queue and
  enabling publisher confirms on its publishing channel), drops it when a call fails,
  repeats an operation on a new connection a bounded number of times with the spools'
  back-off (:mod:`spoolwatch.spools.retry`), and publishes batches with pipelined confirms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from spoolwatch.errors import ConfigError, MissingExtra, SpoolUnavailable, SpoolwatchError
from spoolwatch.spools.rabbitmq_config import RabbitMQConfig, mask_url
from spoolwatch.spools.retry import Backoff, attempts

try:
    import pika
    import pika.exceptions as pika_errors
    from pika.spec import Basic
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtra("pika", "rabbitmq") from exc

__all__ = ["PIKA_ERRORS", "BrokerConnection", "connection_parameters", "translate"]

logger = logging.getLogger(__name__)

#: The longest pause between reconnects of one operation (they start at ``retry_delay``).
_RECONNECT_CAP = 10.0


def connection_parameters(config: RabbitMQConfig) -> Any:
    """pika connection parameters for ``config``."""
    try:
        params = pika.URLParameters(config.url)
    except ValueError as exc:
        raise ConfigError(f"bad RabbitMQ url {mask_url(config.url)}: {exc}") from None
    params.connection_attempts = config.connection_attempts
    params.retry_delay = config.retry_delay
    params.blocked_connection_timeout = 60
    if config.heartbeat is not None:
        params.heartbeat = config.heartbeat
    if config.connection_name:
        params.client_properties = {"connection_name": config.connection_name}
    if config.uses_tls:
        params.ssl_options = pika.SSLOptions(config.ssl_context(), params.host)
    return params


def translate(exc: BaseException, action: str, where: str) -> SpoolwatchError:
    """The one place where pika's exceptions become spoolwatch's."""
    prefix = f"RabbitMQ {where}: cannot {action}"
    if isinstance(exc, pika_errors.ProbableAuthenticationError | pika_errors.AuthenticationError):
        return ConfigError(f"{prefix}: the broker refused the login (check user and password)")
    if isinstance(exc, pika_errors.ProbableAccessDeniedError):
        return ConfigError(
            f"{prefix}: access to the virtual host was refused (it may not exist, or the "
            "user has no permission on it)"
        )
    code = getattr(exc, "reply_code", None)
    text = mask_url(str(getattr(exc, "reply_text", "") or exc))
    if isinstance(exc, pika_errors.ConnectionClosedByBroker) and code in {403, 530}:
        return ConfigError(f"{prefix}: the broker refused access ({code} {text})")
    if isinstance(exc, pika_errors.ChannelClosedByBroker):
        if code == 403:
            return ConfigError(f"{prefix}: access refused ({text})")
        if code == 404:
            return ConfigError(f"{prefix}: not found ({text})")
        if code == 406:
            return ConfigError(
                f"{prefix}: precondition failed ({text}); a queue declared with other "
                "arguments than durable=True cannot be used"
            )
    if isinstance(exc, pika_errors.UnroutableError):
        return SpoolUnavailable(f"{prefix}: the broker returned records as unroutable ({text})")
    if isinstance(exc, pika_errors.NackError):
        return SpoolUnavailable(f"{prefix}: the broker refused (nacked) records")
    return SpoolUnavailable(f"{prefix}: {type(exc).__name__}: {text}")


PIKA_ERRORS = (pika_errors.AMQPError, OSError)


class BrokerConnection:
    """The spool's connection and publishing channel; replaced by a new one when it breaks.

    ``on_drop`` is called whenever the connection is given up, before it is closed, so the
    spool can forget what it received on it. ``generation`` counts the connections opened."""

    def __init__(self, config: RabbitMQConfig, name: str, on_drop: Callable[[], None]) -> None:
        self.config = config
        self.name = name
        self._on_drop = on_drop
        self._params = connection_parameters(config)
        self.conn: Any = None
        self.generation = 0
        self.publisher: Any = None
        self._pending: set[int] = set()  # published sequence numbers awaiting a confirm
        self._confirmed_floor = 0
        self._publish_seq = 0
        self._nacked: set[int] = set()
        self._returned = 0

    def call(self, action: str, fn: Callable[[], Any], *, side_channel: bool = False) -> Any:
        """Run one pika call; translate its errors. A broken connection is dropped, and so
        is one whose main channels were closed by the broker; a side channel's is kept."""
        try:
            return fn()
        except PIKA_ERRORS as exc:
            error = translate(exc, action, self.name)
            if not (side_channel and isinstance(exc, pika_errors.ChannelClosedByBroker)):
                self.drop()
            raise error from exc

    def open(self) -> Any:
        """The open connection; connects first (declaring the queue, enabling publisher
        confirms on the publishing channel) when there is none."""
        if self.conn is not None and self.conn.is_open:
            return self.conn
        self.drop()
        conn = self.call("connect", lambda: pika.BlockingConnection(self._params))
        self.conn = conn
        self.generation += 1
        channel = self.call("open a channel", conn.channel)
        self.call(
            f"declare queue {self.config.queue!r}",
            lambda: channel.queue_declare(self.config.queue, durable=True),
        )
        self.publisher = channel
        self._setup_confirms(channel)
        return conn

    def _setup_confirms(self, channel: Any) -> None:
        # Confirms are tracked on the channel's underlying implementation so that a batch
        # can be published without waiting for each confirm in turn.
        ready: list[bool] = []
        impl = channel._impl
        impl.add_on_return_callback(self._on_return)
        self._publish_seq = 0
        self._confirmed_floor = 0
        self._pending.clear()

        def on_select_ok(_frame: Any) -> None:
            ready.append(True)
            self.wake()

        impl.confirm_delivery(self._on_confirm, on_select_ok)
        self.wait_for("enable publisher confirms", lambda: bool(ready), 10.0)

    def drop(self) -> None:
        """Give the connection up (the spool forgets what it received on it) and close it."""
        conn, self.conn = self.conn, None
        self.publisher = None
        self._on_drop()
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except PIKA_ERRORS:
                logger.debug("%s: error while closing a broken connection", self.name)

    def wait_for(self, action: str, done: Callable[[], bool], timeout: float) -> None:
        """Process the connection's events until ``done()``; after ``timeout`` seconds drop
        the connection and raise :class:`~spoolwatch.errors.SpoolUnavailable`."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                self.drop()
                raise SpoolUnavailable(f"RabbitMQ {self.name}: timed out trying to {action}")
            pause = min(0.5, max(0.0, deadline - time.monotonic()))
            self.call(action, partial(self.conn.process_data_events, time_limit=pause))

    def wake(self) -> None:
        """End the current ``process_data_events`` wait early.

        Callbacks registered on the channel implementation (confirms) do not end that wait
        by themselves; a scheduled no-op callback does."""
        if self.conn is not None:
            self.conn.add_callback_threadsafe(_nothing)

    def retrying(self, action: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``; after a lost connection reconnect and run it again (bounded)."""
        limit = self.config.reconnect_attempts + 1
        backoff = Backoff(initial=self.config.retry_delay, cap=_RECONNECT_CAP, jitter=0.25)
        for attempt in attempts(limit, backoff):
            try:
                return fn()
            except SpoolUnavailable as exc:
                if attempt == limit:
                    raise
                logger.warning("%s (attempt %d); reconnecting", exc, attempt)
                self.drop()
        raise AssertionError("unreachable")  # pragma: no cover

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = [method.delivery_tag]
        if method.multiple:
            tags = list(range(self._confirmed_floor + 1, method.delivery_tag + 1))
            self._confirmed_floor = method.delivery_tag
        for tag in tags:
            self._pending.discard(tag)
            if isinstance(method, Basic.Nack):
                self._nacked.add(tag)
        if not self._pending or self._nacked:
            self.wake()

    def _on_return(self, _channel: Any, _method: Any, _properties: Any, _body: bytes) -> None:
        self._returned += 1
        self.wake()

    def publish(
        self,
        queue: str,
        messages: Sequence[tuple[bytes, Any]],
        action: str,
        *,
        declare: bool = False,
    ) -> None:
        """Publish ``messages`` to ``queue``; return when the broker confirmed all of them.

        ``declare`` declares ``queue`` (durable) first, on every connection attempt."""
        remaining = list(range(len(messages)))

        def attempt() -> None:
            nonlocal remaining
            self.open()
            channel = self.publisher
            if declare:
                self.call(f"declare {queue!r}", partial(channel.queue_declare, queue, durable=True))
            impl = channel._impl
            seq_to_index: dict[int, int] = {}
            self._nacked.clear()
            self._returned = 0
            for index in remaining:
                body, properties = messages[index]
                publish = partial(impl.basic_publish, "", queue, body, properties, mandatory=True)
                self.call(action, publish)
                self._publish_seq += 1
                self._pending.add(self._publish_seq)
                seq_to_index[self._publish_seq] = index
            try:
                self.wait_for(action, lambda: not self._pending, self.config.confirm_timeout)
            finally:
                # Only what the broker did not confirm is published again.
                unconfirmed = (self._pending | self._nacked) & seq_to_index.keys()
                remaining = sorted(seq_to_index[seq] for seq in unconfirmed)
            if self._returned:
                raise ConfigError(
                    f"RabbitMQ {self.name}: {self._returned} records were unroutable: "
                    f"queue {queue!r} does not exist (was it deleted?)"
                )
            if remaining:
                raise SpoolUnavailable(
                    f"RabbitMQ {self.name}: the broker refused {len(remaining)} records"
                )

        self.retrying(action, attempt)


def _nothing() -> None:
    return None
