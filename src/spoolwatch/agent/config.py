"""The agent's typed configuration.

Build an :class:`AgentConfig` directly, or read a file with
:func:`spoolwatch.agent.config_file.load_config` (our YAML, or DataRobot's
``mlops.agent.conf.yaml`` through :mod:`spoolwatch.agent.datarobot_config`). Where records go
and how they are batched (:class:`~spoolwatch.sinks.config.TargetConfig`,
:class:`~spoolwatch.sinks.config.BatchingConfig`) belong to the sinks.

Every error is a :class:`~spoolwatch.errors.ConfigError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from spoolwatch.errors import ConfigError
from spoolwatch.sinks.config import BatchingConfig, TargetConfig, display_address

__all__ = [
    "AgentConfig",
    "ChannelConfig",
    "DedupeConfig",
    "QuarantineConfig",
    "RetryConfig",
]


@dataclass(frozen=True, kw_only=True)
class ChannelConfig:
    """One spool the agent drains: an address for ``open_spool`` plus transport options."""

    name: str
    address: str
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ChannelConfig(name={self.name!r}, address={display_address(self.address)!r})"


@dataclass(frozen=True, kw_only=True)
class RetryConfig:
    """Back-off for a destination that is down, how long a stop waits for it, and when a
    repeating server error is narrowed down to the records that cause it."""

    initial_seconds: float = 0.5
    max_seconds: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.25
    shutdown_grace_seconds: float = 10.0
    #: Attempts of the same records that fail with a 5xx (not 502/503/504, no Retry-After)
    #: before, if the destination answers otherwise, the records that fail alone are found
    #: and quarantined.
    server_error_attempts: int = 3

    def __post_init__(self) -> None:
        if self.server_error_attempts < 1:
            raise ConfigError(
                f"retry.server_error_attempts must be at least 1, got {self.server_error_attempts}"
            )


@dataclass(frozen=True, kw_only=True)
class QuarantineConfig:
    """What happens to records that cannot be forwarded."""

    unknown_types: Literal["skip", "quarantine"] = "skip"
    max_body_chars: int = 2000


@dataclass(frozen=True, kw_only=True)
class DedupeConfig:
    """The bounded set of record ids already sent (for redeliveries)."""

    max_ids: int = 100_000
    ttl_seconds: float = 3600.0


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """Everything the agent needs. Build it directly, or with :func:`load_config`."""

    target: TargetConfig
    channels: tuple[ChannelConfig, ...]
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    quarantine: QuarantineConfig = field(default_factory=QuarantineConfig)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    stats_interval_seconds: float = 10.0
    stats_path: str | None = None
    heartbeat: bool | None = None
    heartbeat_interval_seconds: float = 30.0
    dry_run: bool = False
    run_once: bool = False
    agent_id: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.channels:
            raise ConfigError("channels: at least one channel is needed")
        names = [c.name for c in self.channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"channels: names must be unique, repeated: {duplicates}")

    @property
    def heartbeat_enabled(self) -> bool:
        """Heartbeats go to our service only, unless switched on or off explicitly."""
        if self.heartbeat is not None:
            return self.heartbeat
        return self.target.kind == "spoolwatch"
