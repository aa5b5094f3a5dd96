"""The typed configuration of scaling: concurrency, leases and the circuit breaker.

:class:`ScalingSettings` is built with keyword arguments and checks itself; a wrong value
raises :class:`~spoolwatch.errors.ConfigError` naming the field. :meth:`ScalingSettings.from_env`
fills it from ``SPOOLWATCH_SCALING_<FIELD>`` environment variables (explicit arguments win),
read with pydantic-settings (:mod:`spoolwatch.settings_env`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationInfo, create_model, field_validator

from spoolwatch.errors import ConfigError
from spoolwatch.settings_env import EnvSettings, load_env

__all__ = ["ENV_PREFIX", "ScalingSettings"]

ENV_PREFIX = "SPOOLWATCH_SCALING_"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalingSettings:
    """How far agents scale and when the circuit breaker stops them.

    * ``target_concurrency``: the most agents running at once; also the number of lease slots.
    * ``records_per_agent``: backlog one agent is expected to drain (500 like DataRobot's recipe).
    * ``lease_seconds``: how long a lease slot stays claimed without a heartbeat; agents renew
      every ``heartbeat_seconds`` (a third of it), a crashed agent's slot frees after it.
    * ``failure_threshold`` failures within ``failure_window_seconds`` open the breaker.
    * ``base_cooldown_seconds``: how long the breaker stays open the first time; each failed
      probe doubles it, up to ``max_cooldown_seconds``.
    * ``probe_timeout_seconds``: how long a half-open probe claim holds; a probe that never
      reports frees the claim after it (default: the 15-minute Lambda limit).
    * ``failure_ttl_seconds``: how long failure records are kept (the store's TTL clean-up).
    """

    target_concurrency: int
    records_per_agent: int = 500
    lease_seconds: float = 120.0
    failure_threshold: int = 5
    failure_window_seconds: float = 300.0
    base_cooldown_seconds: float = 60.0
    max_cooldown_seconds: float = 3600.0
    probe_timeout_seconds: float = 900.0
    failure_ttl_seconds: float = 86400.0

    def __post_init__(self) -> None:
        for name in ("target_concurrency", "records_per_agent", "failure_threshold"):
            _check_positive_int(name, getattr(self, name))
        for name in (
            "lease_seconds",
            "failure_window_seconds",
            "base_cooldown_seconds",
            "max_cooldown_seconds",
            "probe_timeout_seconds",
            "failure_ttl_seconds",
        ):
            _check_positive_number(name, getattr(self, name))
        if self.target_concurrency > 10_000:
            raise ConfigError(
                "ScalingSettings.target_concurrency must be <= 10000 (one lease slot per "
                f"agent), got {self.target_concurrency}"
            )
        if self.base_cooldown_seconds > self.max_cooldown_seconds:
            raise ConfigError(
                "ScalingSettings.base_cooldown_seconds must be <= max_cooldown_seconds, got "
                f"{self.base_cooldown_seconds} > {self.max_cooldown_seconds}"
            )
        if self.failure_ttl_seconds < self.failure_window_seconds:
            raise ConfigError(
                "ScalingSettings.failure_ttl_seconds must be >= failure_window_seconds, so "
                f"failures are kept while they count; got {self.failure_ttl_seconds} < "
                f"{self.failure_window_seconds}"
            )

    @property
    def heartbeat_seconds(self) -> float:
        """How often a running agent should renew its lease (a third of the lease)."""
        return self.lease_seconds / 3.0

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> ScalingSettings:
        """Build settings from ``SPOOLWATCH_SCALING_<FIELD>`` variables; ``overrides`` win."""
        env = os.environ if environ is None else environ
        overridden = {_variable(name) for name in overrides}
        readable = {name: value for name, value in env.items() if name not in overridden}
        values = load_env(_ScalingEnv, readable).model_dump(exclude_unset=True)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"ScalingSettings: unknown setting(s) {sorted(unknown)}")
        values.update(overrides)
        if "target_concurrency" not in values:
            raise ConfigError(
                f"ScalingSettings: target_concurrency is required (set {ENV_PREFIX}"
                "TARGET_CONCURRENCY or pass target_concurrency=...)"
            )
        return cls(**values)


def _variable(field: str) -> str:
    """The variable of a field: ``SPOOLWATCH_SCALING_LEASE_SECONDS`` for ``lease_seconds``."""
    return ENV_PREFIX + field.upper()


def _parse_variable(cls: type[EnvSettings], raw: object, info: ValidationInfo) -> object:
    """A variable's text as its field's number; ConfigError naming the variable otherwise."""
    if not isinstance(raw, str):
        return raw
    name = str(info.field_name)
    return _parse(_variable(name), raw, ScalingSettings.__dataclass_fields__[name].type)


class _ScalingVariables(EnvSettings):
    """Base of :data:`_ScalingEnv`: a blank variable is read (and refused), not skipped."""

    blank_is_unset = False


_ENV_FIELDS: dict[str, Any] = {
    field.name: (Any, Field(default=None, alias=_variable(field.name)))
    for field in dataclasses.fields(ScalingSettings)
}

#: The ``SPOOLWATCH_SCALING_<FIELD>`` variables, one per field of :class:`ScalingSettings`.
_ScalingEnv = create_model(
    "_ScalingEnv",
    __base__=_ScalingVariables,
    __validators__={"parse": field_validator("*", mode="before")(_parse_variable)},
    **_ENV_FIELDS,
)


def _parse(var: str, raw: str, kind: object) -> int | float:
    text = raw.strip()
    try:
        return int(text) if kind in (int, "int") else float(text)
    except ValueError:
        expected = "an integer" if kind in (int, "int") else "a number"
        raise ConfigError(f"{var} must be {expected}, got {raw!r}") from None


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"ScalingSettings.{name} must be an integer, got {value!r}")
    if value < 1:
        raise ConfigError(f"ScalingSettings.{name} must be >= 1, got {value}")


def _check_positive_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"ScalingSettings.{name} must be a number, got {value!r}")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"ScalingSettings.{name} must be a finite number > 0, got {value}")
