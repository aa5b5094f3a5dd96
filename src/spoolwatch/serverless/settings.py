"""Settings of the Lambda agents, read from the function's environment with pydantic-settings
(:mod:`spoolwatch.settings_env`); a missing or malformed variable is a ConfigError naming it.

=================================  ==========================================================
variable                           meaning
=================================  ==========================================================
``SPOOLWATCH_DATA_QUEUE_URL``      the SQS queue the models report into (required)
``SPOOLWATCH_AGENT_QUEUE_URL``     the queue of recruit and hand-off messages (required)
``SPOOLWATCH_STATE_TABLE``         the DynamoDB table of leases and the breaker (required)
``SPOOLWATCH_TARGET_CONCURRENCY``  most agents at once (default 10)
``SPOOLWATCH_RECORDS_PER_AGENT``   backlog one agent is recruited for (default 500)
``SPOOLWATCH_AGENT_CONFIG``        optional agent config (ours or DataRobot's), ``s3://`` or a path
``SPOOLWATCH_DESTINATION_URL``     the monitoring service (or DataRobot); wins over the config
``SPOOLWATCH_DESTINATION_KIND``    ``spoolwatch`` (default) or ``datarobot``
``SPOOLWATCH_API_TOKEN_SECRET``    Secrets Manager secret id/ARN, or ``ssm:<parameter name>``
                                   or an SSM parameter ARN, holding the API token
``SPOOLWATCH_API_TOKEN``           the token itself: for tests only, never in a deployment
``SPOOLWATCH_DEADLINE_MARGIN_SECONDS``  stop reading this long before Lambda's deadline (60),
                                   at most half the time the invocation has left when its
                                   agent starts (:func:`~spoolwatch.scaling.run_margin`)
``SPOOLWATCH_IDLE_SECONDS``        an agent stops after this long without a record (20): a
                                   read long-polls this long for the first record, so steady
                                   thin traffic keeps one agent running instead of a stop and
                                   a wake every few seconds
``SPOOLWATCH_WAKE_MAPPING``        UUID of the data queue's wake trigger (event source mapping)
                                   that agents disarm while they run; unset when there is none
``SPOOLWATCH_SCALING_<FIELD>``     the other :class:`~spoolwatch.scaling.ScalingSettings` fields
=================================  ==========================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from spoolwatch.errors import ConfigError
from spoolwatch.scaling import ScalingSettings
from spoolwatch.scaling.session import DEADLINE_MARGIN_SECONDS, IDLE_SECONDS
from spoolwatch.settings_env import EnvSettings, load_env

__all__ = ["ServerlessSettings"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


class _ServerlessEnv(EnvSettings):
    """The handler's variables (see the module table), in the order they are checked."""

    target_concurrency: int = Field(10, alias="SPOOLWATCH_TARGET_CONCURRENCY")
    records_per_agent: int = Field(500, alias="SPOOLWATCH_RECORDS_PER_AGENT")
    destination_kind: str = Field("spoolwatch", alias="SPOOLWATCH_DESTINATION_KIND")
    destination_url: str = Field("", alias="SPOOLWATCH_DESTINATION_URL")
    data_queue_url: str = Field("", alias="SPOOLWATCH_DATA_QUEUE_URL", validate_default=True)
    agent_queue_url: str = Field("", alias="SPOOLWATCH_AGENT_QUEUE_URL", validate_default=True)
    state_table: str = Field("", alias="SPOOLWATCH_STATE_TABLE", validate_default=True)
    agent_config: str = Field("", alias="SPOOLWATCH_AGENT_CONFIG")
    api_token_secret: str = Field("", alias="SPOOLWATCH_API_TOKEN_SECRET")
    api_token: SecretStr = Field(SecretStr(""), alias="SPOOLWATCH_API_TOKEN")
    deadline_margin_seconds: float = Field(
        DEADLINE_MARGIN_SECONDS, alias="SPOOLWATCH_DEADLINE_MARGIN_SECONDS"
    )
    idle_seconds: float = Field(IDLE_SECONDS, alias="SPOOLWATCH_IDLE_SECONDS")
    wake_mapping: str = Field("", alias="SPOOLWATCH_WAKE_MAPPING")

    @field_validator("target_concurrency", "records_per_agent", mode="before")
    @classmethod
    def _whole_number(cls, raw: object, info: ValidationInfo) -> object:
        return _positive(_variable(info), raw, integer=True)

    @field_validator("deadline_margin_seconds", "idle_seconds", mode="before")
    @classmethod
    def _number(cls, raw: object, info: ValidationInfo) -> object:
        return _positive(_variable(info), raw, integer=False)

    @field_validator("data_queue_url", "agent_queue_url", "state_table", mode="before")
    @classmethod
    def _required(cls, value: object, info: ValidationInfo) -> object:
        if not value:
            raise ConfigError(f"environment variable {_variable(info)} is required and is not set")
        return value

    @field_validator("destination_kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        if kind not in {"spoolwatch", "datarobot"}:
            raise ConfigError(
                f"SPOOLWATCH_DESTINATION_KIND must be spoolwatch or datarobot, got {kind!r}"
            )
        return kind

    @field_validator("destination_url")
    @classmethod
    def _destination(cls, destination: str) -> str:
        if not destination.startswith(("http://", "https://")):
            raise ConfigError(
                "SPOOLWATCH_DESTINATION_URL must start with http:// or https://, "
                f"got {destination!r}"
            )
        return destination

    @field_validator("wake_mapping")
    @classmethod
    def _mapping_uuid(cls, value: str) -> str:
        if not _UUID.fullmatch(value):
            raise ConfigError(
                "SPOOLWATCH_WAKE_MAPPING must be an event source mapping's UUID (its id, not "
                f"its ARN), got {value!r}"
            )
        return value


def _variable(info: ValidationInfo) -> str:
    """The variable a field of :class:`_ServerlessEnv` is read from."""
    return str(_ServerlessEnv.model_fields[str(info.field_name)].alias)


def _positive(name: str, raw: object, *, integer: bool) -> object:
    """``raw`` as a finite number above 0 (a whole one when ``integer``), or ConfigError."""
    if not isinstance(raw, str):
        return raw
    try:
        value: float = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerlessSettings:
    """Everything the Lambda handler reads from its environment (see the module table)."""

    data_queue_url: str
    agent_queue_url: str
    state_table: str
    scaling: ScalingSettings
    agent_config: str = ""
    destination_url: str = ""
    destination_kind: str = "spoolwatch"
    api_token_secret: str = ""
    api_token: str = ""
    deadline_margin_seconds: float = DEADLINE_MARGIN_SECONDS
    idle_seconds: float = IDLE_SECONDS
    wake_mapping: str = ""

    def __repr__(self) -> str:
        # The token must never reach a log line, even through a repr.
        return (
            f"ServerlessSettings(data_queue_url={self.data_queue_url!r}, "
            f"agent_queue_url={self.agent_queue_url!r}, state_table={self.state_table!r}, "
            f"destination_url={self.destination_url!r}, scaling={self.scaling!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerlessSettings:
        """Read the settings; a missing or malformed variable raises ConfigError naming it."""
        env = load_env(_ServerlessEnv, environ)
        scaling = ScalingSettings.from_env(
            environ,
            target_concurrency=env.target_concurrency,
            records_per_agent=env.records_per_agent,
        )
        values: dict[str, Any] = env.model_dump(exclude={"target_concurrency", "records_per_agent"})
        values["api_token"] = env.api_token.get_secret_value()
        settings = cls(scaling=scaling, **values)
        if not settings.destination_url and not settings.agent_config:
            raise ConfigError(
                "set SPOOLWATCH_DESTINATION_URL (or a target in SPOOLWATCH_AGENT_CONFIG): the "
                "agents need to know where to send records"
            )
        return settings
