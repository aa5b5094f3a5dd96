"""ScalingSettings validation and environment parsing."""

from __future__ import annotations

import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.scaling import ManualClock, ScalingSettings


def test_settings_defaults_follow_the_recipe() -> None:
    s = ScalingSettings(target_concurrency=3)
    assert s.records_per_agent == 500
    assert s.max_cooldown_seconds == 3600
    assert s.heartbeat_seconds == pytest.approx(s.lease_seconds / 3)


def test_settings_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ScalingSettings(3)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"target_concurrency": 0}, "target_concurrency"),
        ({"target_concurrency": 2.5}, "target_concurrency"),
        ({"target_concurrency": True}, "target_concurrency"),
        ({"target_concurrency": 20_000}, "target_concurrency"),
        ({"target_concurrency": 1, "records_per_agent": 0}, "records_per_agent"),
        ({"target_concurrency": 1, "lease_seconds": -5}, "lease_seconds"),
        ({"target_concurrency": 1, "lease_seconds": float("nan")}, "lease_seconds"),
        ({"target_concurrency": 1, "failure_threshold": 0}, "failure_threshold"),
        ({"target_concurrency": 1, "base_cooldown_seconds": 7200}, "base_cooldown_seconds"),
        (
            {"target_concurrency": 1, "failure_ttl_seconds": 10, "failure_window_seconds": 60},
            "failure_ttl_seconds",
        ),
    ],
)
def test_invalid_settings_are_rejected_naming_the_field(
    kwargs: dict[str, object], names: str
) -> None:
    with pytest.raises(ConfigError, match=names):
        ScalingSettings(**kwargs)  # type: ignore[arg-type]


def test_settings_from_env_parse_and_explicit_arguments_win() -> None:
    env = {
        "SPOOLWATCH_SCALING_TARGET_CONCURRENCY": "8",
        "SPOOLWATCH_SCALING_LEASE_SECONDS": "90",
        "SPOOLWATCH_SCALING_FAILURE_THRESHOLD": "3",
    }
    s = ScalingSettings.from_env(env, failure_threshold=7)
    assert (s.target_concurrency, s.lease_seconds, s.failure_threshold) == (8, 90.0, 7)


def test_settings_from_env_names_the_bad_variable() -> None:
    with pytest.raises(ConfigError, match="SPOOLWATCH_SCALING_TARGET_CONCURRENCY"):
        ScalingSettings.from_env({"SPOOLWATCH_SCALING_TARGET_CONCURRENCY": "many"})


def test_settings_from_env_requires_target_concurrency() -> None:
    with pytest.raises(ConfigError, match="target_concurrency is required"):
        ScalingSettings.from_env({})


def test_settings_from_env_rejects_unknown_overrides() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        ScalingSettings.from_env({}, target_concurrency=1, concurrency=3)


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(100.0)
    assert clock.advance(2.5) == 102.5
    clock.set(200.0)
    assert clock.now() == 200.0
    with pytest.raises(ConfigError):
        clock.advance(-1)
    with pytest.raises(ConfigError):
        clock.set(10.0)
