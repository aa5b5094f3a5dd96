"""Settings of the Lambda agents, read from the function's environment.

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
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from spoolwatch.errors import ConfigError
from spoolwatch.scaling import ScalingSettings
from spoolwatch.scaling.session import DEADLINE_MARGIN_SECONDS, IDLE_SECONDS

__all__ = ["ServerlessSettings"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required and is not set")
    return value


def _number(env: Mapping[str, str], name: str, default: float, *, integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {raw!r}")
    return value


def _mapping_uuid(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if value and not _UUID.fullmatch(value):
        raise ConfigError(
            f"{name} must be an event source mapping's UUID (its id, not its ARN), got {value!r}"
        )
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
        env = os.environ if environ is None else environ
        scaling = ScalingSettings.from_env(
            env,
            target_concurrency=int(_number(env, "SPOOLWATCH_TARGET_CONCURRENCY", 10, integer=True)),
            records_per_agent=int(_number(env, "SPOOLWATCH_RECORDS_PER_AGENT", 500, integer=True)),
        )
        kind = env.get("SPOOLWATCH_DESTINATION_KIND", "spoolwatch").strip() or "spoolwatch"
        if kind not in {"spoolwatch", "datarobot"}:
            raise ConfigError(
                f"SPOOLWATCH_DESTINATION_KIND must be spoolwatch or datarobot, got {kind!r}"
            )
        destination = env.get("SPOOLWATCH_DESTINATION_URL", "").strip()
        if destination and not destination.startswith(("http://", "https://")):
            raise ConfigError(
                "SPOOLWATCH_DESTINATION_URL must start with http:// or https://, "
                f"got {destination!r}"
            )
        settings = cls(
            data_queue_url=_required(env, "SPOOLWATCH_DATA_QUEUE_URL"),
            agent_queue_url=_required(env, "SPOOLWATCH_AGENT_QUEUE_URL"),
            state_table=_required(env, "SPOOLWATCH_STATE_TABLE"),
            scaling=scaling,
            agent_config=env.get("SPOOLWATCH_AGENT_CONFIG", "").strip(),
            destination_url=destination,
            destination_kind=kind,
            api_token_secret=env.get("SPOOLWATCH_API_TOKEN_SECRET", "").strip(),
            api_token=env.get("SPOOLWATCH_API_TOKEN", "").strip(),
            deadline_margin_seconds=_number(
                env, "SPOOLWATCH_DEADLINE_MARGIN_SECONDS", DEADLINE_MARGIN_SECONDS
            ),
            idle_seconds=_number(env, "SPOOLWATCH_IDLE_SECONDS", IDLE_SECONDS),
            wake_mapping=_mapping_uuid(env, "SPOOLWATCH_WAKE_MAPPING"),
        )
        if not settings.destination_url and not settings.agent_config:
            raise ConfigError(
                "set SPOOLWATCH_DESTINATION_URL (or a target in SPOOLWATCH_AGENT_CONFIG): the "
                "agents need to know where to send records"
            )
        return settings
