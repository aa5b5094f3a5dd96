"""Where a sink sends records and how it batches them: the ``target`` and ``batching``
sections of the agent's configuration (:mod:`spoolwatch.agent.config` holds the rest).

The API token is held as a :class:`~spoolwatch.sinks.secrets.Secret` and never printed;
addresses are shown with :func:`display_address` (any password as ``****``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spoolwatch.errors import ConfigError
from spoolwatch.sinks.secrets import Secret

__all__ = ["BatchingConfig", "TargetConfig", "TargetKind", "display_address"]

TargetKind = Literal["spoolwatch", "datarobot"]


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    """Where records go: the base URL of our service or of a DataRobot installation."""

    url: str
    api_token: Secret | None = None
    kind: TargetKind = "spoolwatch"
    verify_ssl: bool = True
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            shown = display_address(self.url)
            raise ConfigError(f"target.url must start with http:// or https://, got {shown!r}")

    def __repr__(self) -> str:
        return (
            f"TargetConfig(url={display_address(self.url)!r}, api_token={self.api_token!r}, "
            f"kind={self.kind!r}, verify_ssl={self.verify_ssl!r}, "
            f"timeout_seconds={self.timeout_seconds!r})"
        )


def display_address(address: str) -> str:
    """The address with any password replaced by ``****``, for logs and reprs."""
    if "://" in address and "@" in address.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = address.split("://", 1)
        userinfo, host = rest.split("@", 1)
        return f"{scheme}://{userinfo.split(':', 1)[0]}:****@{host}"
    return address


@dataclass(frozen=True, kw_only=True)
class BatchingConfig:
    """How much is read at once and how records are merged into requests."""

    max_records: int = 2000
    wait_seconds: float = 0.5
    max_request_bytes: int = 1_000_000
    #: 200 keeps ``X-Spoolwatch-Record-Ids`` (36-character ids) under proxies' 8 KiB
    #: header limit.
    max_records_per_request: int = 200
    #: Requests posted at once (keep-alive connections to the target), for the whole agent.
    max_in_flight: int = 8
