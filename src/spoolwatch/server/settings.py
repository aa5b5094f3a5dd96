"""The service's typed configuration; ``spoolwatch serve``'s flags and ``SPOOLWATCH_*``
environment variables fill it (both from the table
:data:`~spoolwatch.server.settings_table.SERVE_SETTINGS`); the variables are read with
pydantic-settings (:mod:`spoolwatch.settings_env`), each parsed by its row of the table."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationInfo, create_model, field_validator

from spoolwatch.errors import ConfigError
from spoolwatch.server.settings_table import (
    DEFAULT_MAX_BODY_BYTES,
    SERVICE_SETTINGS,
    setting,
)
from spoolwatch.settings_env import EnvSettings, load_env

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServerSettings", "is_loopback"]

#: Each field's default, from the table.
_DEFAULT: dict[str, Any] = {s.name: s.default for s in SERVICE_SETTINGS}


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

    Every field is a row of :data:`~spoolwatch.server.settings_table.SERVE_SETTINGS`, which
    holds its default, bounds, flag and variable; a value out of bounds is a
    :class:`~spoolwatch.server.setting.SettingError` naming both.
    """

    db_url: str | None = _DEFAULT["db_url"]
    auth: bool = _DEFAULT["auth"]
    max_body_bytes: int = _DEFAULT["max_body_bytes"]
    webhook_url: str | None = _DEFAULT["webhook_url"]
    alert_period_seconds: int = _DEFAULT["alert_period_seconds"]
    alert_check_seconds: float = _DEFAULT["alert_check_seconds"]
    alert_window_seconds: int = _DEFAULT["alert_window_seconds"]
    drift_metric: str = _DEFAULT["drift_metric"]
    error_rate_yellow: float = _DEFAULT["error_rate_yellow"]
    error_rate_red: float = _DEFAULT["error_rate_red"]
    agent_stale_seconds: float = _DEFAULT["agent_stale_seconds"]
    accuracy_yellow: float = _DEFAULT["accuracy_yellow"]
    accuracy_red: float = _DEFAULT["accuracy_red"]
    accuracy_min_rows: int = _DEFAULT["accuracy_min_rows"]
    accuracy_reference_rows: int = _DEFAULT["accuracy_reference_rows"]
    cache_seconds: float = _DEFAULT["cache_seconds"]
    dashboard: bool = _DEFAULT["dashboard"]
    fleet_data_queue_url: str | None = _DEFAULT["fleet_data_queue_url"]
    fleet_agent_queue_url: str | None = _DEFAULT["fleet_agent_queue_url"]
    fleet_table: str | None = _DEFAULT["fleet_table"]
    fleet_target_concurrency: int = _DEFAULT["fleet_target_concurrency"]
    fleet_cache_seconds: float = _DEFAULT["fleet_cache_seconds"]

    def __post_init__(self) -> None:
        for entry in SERVICE_SETTINGS:
            entry.check(getattr(self, entry.name))
        self._check_order("error_rate_yellow", "below", "error_rate_red")
        self._check_order("accuracy_yellow", "below", "accuracy_red")
        self._check_order("accuracy_min_rows", "at most", "accuracy_reference_rows")
        self._check_fleet()

    def _check_order(self, low: str, relation: str, high: str) -> None:
        """Two settings in order: a yellow threshold below its red one, say."""
        low_value, high_value = getattr(self, low), getattr(self, high)
        fits = low_value < high_value if relation == "below" else low_value <= high_value
        if not fits:
            raise ConfigError(
                f"{_names(low)} {low_value:g} must be {relation} {_names(high)} {high_value:g}"
            )

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
                "--fleet-table together (SPOOLWATCH_DATA_QUEUE_URL, SPOOLWATCH_AGENT_QUEUE_URL, "
                f"SPOOLWATCH_STATE_TABLE); missing: {', '.join(missing)}"
            )

    @property
    def fleet_configured(self) -> bool:
        """Whether the serverless fleet's queues and table are known."""
        return bool(self.fleet_data_queue_url and self.fleet_agent_queue_url and self.fleet_table)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **explicit: object
    ) -> ServerSettings:
        """Settings from the ``SPOOLWATCH_*`` variables of the table (``os.environ`` unless
        ``environ`` is given; empty ones are not set); explicit non-``None`` arguments win.
        A bad value is a :class:`~spoolwatch.server.setting.SettingError` naming the
        variable and the flag."""
        values = load_env(_ServerEnv, environ).model_dump(exclude_unset=True)
        values.update({k: v for k, v in explicit.items() if v is not None})
        return cls(**values)


def _parse_variable(cls: type[EnvSettings], text: object, info: ValidationInfo) -> Any:
    """A variable's text parsed and checked by its row of the table (a ``SettingError``)."""
    return setting(str(info.field_name)).parse(text, "env")


_ENV_FIELDS: dict[str, Any] = {
    entry.name: (Any, Field(default=None, alias=entry.env)) for entry in SERVICE_SETTINGS
}

#: The service's ``SPOOLWATCH_*`` variables: a field per row of the table, named by its
#: variable and read as the row reads it.
_ServerEnv = create_model(
    "_ServerEnv",
    __base__=EnvSettings,
    __validators__={"parse": field_validator("*", mode="before")(_parse_variable)},
    **_ENV_FIELDS,
)


def _names(name: str) -> str:
    """``--accuracy-red (SPOOLWATCH_ACCURACY_RED)``: a setting's flag and variable."""
    entry = setting(name)
    return f"{entry.flag} ({entry.env})"
