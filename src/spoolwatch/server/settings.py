"""The service's typed configuration; ``SPOOLWATCH_*`` environment variables fill it."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace

from spoolwatch.errors import ConfigError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServerSettings", "is_loopback"]

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

# The variables ``spoolwatch fleet status`` and the Lambda agents read.
_FLEET_ENV = {
    "SPOOLWATCH_DATA_QUEUE_URL": "fleet_data_queue_url",
    "SPOOLWATCH_AGENT_QUEUE_URL": "fleet_agent_queue_url",
    "SPOOLWATCH_STATE_TABLE": "fleet_table",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost`` counts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """How the monitoring service runs.

    ``auth=False`` (``--no-auth``) is refused by ``spoolwatch serve`` unless the service
    binds a loopback address. ``webhook_url`` receives a JSON alert when a deployment's
    status turns yellow or red (at most once per ``alert_period_seconds`` and status);
    statuses are re-evaluated at most every ``alert_check_seconds`` per deployment.
    Accuracy turns yellow/red when its metric is ``accuracy_yellow``/``accuracy_red`` (relative)
    worse than the reference, measured on a deployment's first ``accuracy_reference_rows``
    joined predictions; with fewer than ``accuracy_min_rows`` joined rows it is unknown.
    The serverless fleet (``GET /api/v2/spoolwatch/fleet/``) is read from the two SQS queues
    and the DynamoDB table only when all three ``fleet_*`` names are given; each reading is
    reused for ``fleet_cache_seconds``.
    """

    db_url: str | None = None
    auth: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    webhook_url: str | None = None
    alert_period_seconds: int = 3600
    alert_check_seconds: float = 10.0
    alert_window_seconds: int = 3600
    drift_metric: str = "psi"
    error_rate_yellow: float = 0.05
    error_rate_red: float = 0.2
    agent_stale_seconds: float = 120.0
    accuracy_yellow: float = 0.10
    accuracy_red: float = 0.20
    accuracy_min_rows: int = 100
    accuracy_reference_rows: int = 500
    cache_seconds: float = 5.0
    dashboard: bool = True
    fleet_data_queue_url: str | None = None
    fleet_agent_queue_url: str | None = None
    fleet_table: str | None = None
    fleet_target_concurrency: int = 10
    fleet_cache_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes must be at least 1024")
        if self.alert_period_seconds < 1:
            raise ConfigError("alert_period_seconds must be at least 1")
        if self.webhook_url is not None and not self.webhook_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError("--webhook-url must be an http:// or https:// URL")
        if self.accuracy_reference_rows < self.accuracy_min_rows:
            raise ConfigError("accuracy_reference_rows must be at least accuracy_min_rows")
        self._check_fleet()

    def _check_fleet(self) -> None:
        names = {
            "--fleet-data-queue": self.fleet_data_queue_url,
            "--fleet-agent-queue": self.fleet_agent_queue_url,
            "--fleet-table": self.fleet_table,
        }
        missing = [flag for flag, value in names.items() if not value]
        if 0 < len(missing) < len(names):
            raise ConfigError(
                "the serverless fleet needs --fleet-data-queue, --fleet-agent-queue and "
                f"--fleet-table together; missing: {', '.join(missing)}"
            )
        if self.fleet_target_concurrency < 1:
            raise ConfigError("--fleet-target-concurrency must be at least 1")

    @property
    def fleet_configured(self) -> bool:
        """Whether the serverless fleet's queues and table are known."""
        return bool(self.fleet_data_queue_url and self.fleet_agent_queue_url and self.fleet_table)

    @classmethod
    def from_env(cls, **explicit: object) -> ServerSettings:
        """Settings from ``SPOOLWATCH_DB``, ``SPOOLWATCH_WEBHOOK_URL``,
        ``SPOOLWATCH_MAX_BODY_BYTES`` and the fleet's ``SPOOLWATCH_DATA_QUEUE_URL``,
        ``SPOOLWATCH_AGENT_QUEUE_URL``, ``SPOOLWATCH_STATE_TABLE``,
        ``SPOOLWATCH_TARGET_CONCURRENCY``; explicit non-``None`` arguments win."""
        base = cls()
        env: dict[str, object] = {}
        if os.environ.get("SPOOLWATCH_DB"):
            env["db_url"] = os.environ["SPOOLWATCH_DB"]
        if os.environ.get("SPOOLWATCH_WEBHOOK_URL"):
            env["webhook_url"] = os.environ["SPOOLWATCH_WEBHOOK_URL"]
        if os.environ.get("SPOOLWATCH_MAX_BODY_BYTES"):
            try:
                env["max_body_bytes"] = int(os.environ["SPOOLWATCH_MAX_BODY_BYTES"])
            except ValueError:
                raise ConfigError("SPOOLWATCH_MAX_BODY_BYTES must be an integer") from None
        for variable, name in _FLEET_ENV.items():
            if os.environ.get(variable, "").strip():
                env[name] = os.environ[variable].strip()
        if os.environ.get("SPOOLWATCH_TARGET_CONCURRENCY", "").strip():
            try:
                env["fleet_target_concurrency"] = int(os.environ["SPOOLWATCH_TARGET_CONCURRENCY"])
            except ValueError:
                raise ConfigError("SPOOLWATCH_TARGET_CONCURRENCY must be an integer") from None
        env.update({k: v for k, v in explicit.items() if v is not None})
        return replace(base, **env)  # type: ignore[arg-type]
