"""Settings read from environment variables with pydantic-settings, errors in spoolwatch's words.

A component declares its variables once, as a subclass of :class:`EnvSettings` with one field
per variable (``alias`` is the variable's name), and reads them with :func:`load_env` from
``os.environ`` or from a mapping it is given. The environment is the only source: no ``.env``
file, no secrets directory. Values are stripped and a blank one counts as unset, unless the
class sets ``blank_is_unset = False``.

A value pydantic refuses raises :class:`~spoolwatch.errors.ConfigError` as
``"VARIABLE: what is wrong"``, never pydantic's ``ValidationError``; the value itself is not
repeated, as it may be a secret. A validator that raises a ``ConfigError`` of its own is not
wrapped (pydantic lets exceptions other than ``ValueError`` through), so a component keeps its
own wording.

This module imports nothing of spoolwatch but :mod:`spoolwatch.errors`, so every package may
use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, NamedTuple, TypeVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from spoolwatch.errors import ConfigError

__all__ = ["EnvSettings", "Variable", "load_env"]

_E = TypeVar("_E", bound="EnvSettings")

#: The mapping :func:`load_env` reads, for the settings source it sets up (``None``: the
#: process environment).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("spoolwatch_environ", default=None)


class Variable(NamedTuple):
    """A variable as the validators of a ``tag_variables`` class receive it."""

    name: str
    text: str


class EnvSettings(BaseSettings):
    """Base of a component's environment variables: one field per variable, named by its
    ``alias``; names are case-sensitive, variables no field names are ignored, and defaults
    are not validated (a field may ask for it with ``validate_default=True``)."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        extra="ignore",
        frozen=True,
        validate_default=False,
        protected_namespaces=(),
    )

    #: Strip every value and treat a blank one as unset (the ``SPOOLWATCH_*`` convention).
    blank_is_unset: ClassVar[bool] = True
    #: Hand validators each value as a :class:`Variable` (name and text), not the bare text.
    tag_variables: ClassVar[bool] = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment :func:`load_env` was given."""
        return init_settings, _MappingEnvSource(settings_cls, _ENVIRON.get())


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None) -> None:
        super().__init__(settings_cls)
        loaded: Mapping[str, str | None] = self.env_vars if environ is None else dict(environ)
        if getattr(settings_cls, "blank_is_unset", True):
            stripped = {name: (value or "").strip() for name, value in loaded.items()}
            loaded = {name: value for name, value in stripped.items() if value}
        self.env_vars = loaded

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """The field's value, its variable and whether it is complex; a :class:`Variable` for
        a ``tag_variables`` class (the key pydantic-settings keeps is the first alias)."""
        value, name, complex_value = super().get_field_value(field, field_name)
        if isinstance(value, str) and getattr(self.settings_cls, "tag_variables", False):
            return Variable(name=name, text=value), name, complex_value
        return value, name, complex_value


def load_env(cls: type[_E], environ: Mapping[str, str] | None = None) -> _E:
    """``cls`` filled from ``environ`` (``os.environ`` when ``None``); a refused value is a
    :class:`~spoolwatch.errors.ConfigError` ``"VARIABLE: what is wrong"``."""
    token = _ENVIRON.set(environ)
    try:
        return cls()
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _ENVIRON.reset(token)


def _describe(exc: ValidationError) -> str:
    """The first error as ``VARIABLE: what is wrong`` (pydantic's wording, without the value)."""
    error = exc.errors(include_input=False, include_url=False)[0]
    variable = ".".join(str(part) for part in error["loc"]) or exc.title
    if error["type"] == "missing":
        return f"environment variable {variable} is required and is not set"
    return f"{variable}: {error['msg']}"
