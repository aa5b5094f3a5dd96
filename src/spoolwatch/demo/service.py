"""The monitoring service on a loopback port, run by uvicorn in a background thread."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from typing import Any

from spoolwatch.errors import ConfigError, require

__all__ = ["LocalService", "port_is_free"]

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether ``host:port`` can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


class LocalService:
    """An ASGI app served by uvicorn on ``127.0.0.1:port`` in a daemon thread.

    ``start()`` returns once the socket accepts connections; ``stop()`` asks uvicorn to
    finish in-flight requests and waits for the thread.
    """

    def __init__(self, app: Any, port: int, *, host: str = LOOPBACK) -> None:
        uvicorn: Any = require("uvicorn", "server")
        self.host = host
        self.port = port
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="spoolwatch-service")
        self._thread.daemon = True

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start serving; :class:`ConfigError` when the port is taken or startup fails."""
        if not port_is_free(self.port, self.host):
            raise ConfigError(
                f"port {self.port} on {self.host} is already in use; choose another with --port"
            )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise ConfigError(f"the service could not start on {self.url}")
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"the service did not start on {self.url} within {timeout} s")
            time.sleep(0.02)
        logger.info("service listening on %s", self.url)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the server thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait(self) -> None:
        """Block until the server thread ends (Ctrl-C in the caller stops it)."""
        while self._thread.is_alive():
            self._thread.join(0.5)
