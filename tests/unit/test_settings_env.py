"""Environment variables read into a pydantic-settings class, errors in spoolwatch's words."""

from __future__ import annotations

import pytest
from pydantic import AliasChoices, Field, SecretStr, field_validator

from spoolwatch.errors import ConfigError
from spoolwatch.settings_env import EnvSettings, Variable, load_env


class _Example(EnvSettings):
    count: int = Field(3, alias="SPOOLWATCH_EXAMPLE_COUNT")
    queue: str = Field(alias="SPOOLWATCH_EXAMPLE_QUEUE")
    token: SecretStr = Field(SecretStr(""), alias="SPOOLWATCH_EXAMPLE_TOKEN")


class _Tagged(EnvSettings):
    tag_variables = True

    size: int | None = Field(None, validation_alias=AliasChoices("SPOOLWATCH_SIZE", "MLOPS_SIZE"))

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, found: object) -> object:
        if isinstance(found, Variable):
            if not found.text.isdigit():
                raise ConfigError(f"{found.name}: not a size")
            return int(found.text)
        return found


def test_values_are_stripped_and_blank_ones_are_unset() -> None:
    settings = load_env(
        _Example, {"SPOOLWATCH_EXAMPLE_COUNT": " 7 ", "SPOOLWATCH_EXAMPLE_QUEUE": " q "}
    )
    assert (settings.count, settings.queue) == (7, "q")
    blank = load_env(_Example, {"SPOOLWATCH_EXAMPLE_COUNT": "  ", "SPOOLWATCH_EXAMPLE_QUEUE": "q"})
    assert blank.count == 3


def test_a_refused_value_is_a_config_error_naming_the_variable_not_the_value() -> None:
    with pytest.raises(ConfigError, match=r"^SPOOLWATCH_EXAMPLE_COUNT: ") as info:
        load_env(_Example, {"SPOOLWATCH_EXAMPLE_COUNT": "s3cret", "SPOOLWATCH_EXAMPLE_QUEUE": "q"})
    assert "s3cret" not in str(info.value)


def test_a_missing_required_variable_is_named() -> None:
    with pytest.raises(
        ConfigError, match=r"^environment variable SPOOLWATCH_EXAMPLE_QUEUE is required"
    ):
        load_env(_Example, {})


def test_a_secret_never_reaches_the_repr() -> None:
    settings = load_env(
        _Example, {"SPOOLWATCH_EXAMPLE_QUEUE": "q", "SPOOLWATCH_EXAMPLE_TOKEN": "s3cr3t-token"}
    )
    assert "s3cr3t-token" not in repr(settings)
    assert settings.token.get_secret_value() == "s3cr3t-token"


def test_the_process_environment_is_read_without_a_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPOOLWATCH_EXAMPLE_QUEUE", "from-os")
    assert load_env(_Example).queue == "from-os"


def test_a_tagged_class_sees_which_variable_was_set() -> None:
    assert load_env(_Tagged, {"MLOPS_SIZE": "5", "SPOOLWATCH_SIZE": "6"}).size == 6
    with pytest.raises(ConfigError, match=r"^MLOPS_SIZE: not a size$"):
        load_env(_Tagged, {"MLOPS_SIZE": "big"})
