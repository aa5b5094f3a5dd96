"""One setting of ``spoolwatch serve``: its flag, ``SPOOLWATCH_*`` variable, type, default,
bounds and help (:class:`Setting`), and the one-line error for a bad value (:class:`SettingError`).

The settings themselves are the table :data:`~spoolwatch.server.settings_table.SERVE_SETTINGS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from spoolwatch.errors import ConfigError

__all__ = ["Setting", "SettingError", "Source"]

#: Where a value came from: ``flag``, ``env`` (its variable) or ``value`` (Python, or the
#: settings ``--workers`` hands to its processes).
Source = Literal["flag", "env", "value"]

_TRUE = ("true", "1")
_FALSE = ("false", "0")


class SettingError(ConfigError):
    """A setting's value is wrong; the message names the flag and the variable."""

    def __init__(self, setting: Setting, raw: object, reason: str, source: Source) -> None:
        self.setting, self.raw, self.reason, self.source = setting, raw, reason, source
        super().__init__(setting.describe(raw, reason, source))

    def came_from(self, source: Source) -> SettingError:
        """The same error, worded for a value that came from ``source``."""
        return SettingError(self.setting, self.raw, self.reason, source)


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One setting: ``name`` is the option of ``spoolwatch serve`` and, when ``service``, the
    :class:`~spoolwatch.server.settings.ServerSettings` field it fills; otherwise it says how
    the process runs (address, processes, logs).

    ``kind`` is the value's type; ``optional`` allows ``None`` (the default then means "not
    set"). Numbers lie in [``minimum``, ``maximum``], or above ``above`` (exclusive);
    ``choices`` are the allowed texts. A ``secret`` value (a URL with a password or a
    webhook token in it) is never repeated in an error.
    """

    name: str
    flag: str
    env: str
    kind: type[str] | type[int] | type[float] | type[bool]
    default: Any
    help: str
    panel: str
    service: bool = True
    optional: bool = False
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    choices: tuple[str, ...] = ()
    url: bool = False
    secret: bool = False

    @property
    def flags(self) -> str:
        """The flag as ``--help`` shows it: ``--dashboard/--no-dashboard`` for a switch."""
        return f"{self.flag}/--no-{self.flag[2:]}" if self.kind is bool else self.flag

    @property
    def full_help(self) -> str:
        """The help with the allowed values: ``Port to listen on. Between 1 and 65535.``"""
        if self.choices:
            return f"{self.help} One of: {', '.join(self.choices)}."
        if self.bounds:
            return f"{self.help} {self.bounds[0].upper()}{self.bounds[1:]}."
        return self.help

    def describe(self, raw: object, reason: str, source: Source) -> str:
        """One line naming the flag and the variable: ``SPOOLWATCH_X=abc (--x): reason``."""
        shown = "" if self.secret else str(raw)
        if source == "env":
            where = f"{self.env}={shown}" if shown else self.env
            return f"{where} ({self.flags}): {reason}"
        if source == "flag":
            return f"{self.flag} {shown}".rstrip() + f" ({self.env}): {reason}"
        where = f"{self.name}={raw!r}" if shown else self.name
        return f"{where} ({self.flags}, {self.env}): {reason}"

    def parse(self, raw: object, source: Source = "flag") -> Any:
        """The value of the text ``raw`` (a flag's or variable's), checked; a value that is
        not text (a default) is returned as it is. :class:`SettingError` when it is bad."""
        if not isinstance(raw, str):
            return raw
        text = raw.strip()
        if self.optional and not text:
            return None
        value = self._convert(text, source)
        self.check(value, source, raw=raw)
        return value

    def _convert(self, text: str, source: Source) -> Any:
        if self.kind is bool:
            if text.lower() in _TRUE + _FALSE:
                return text.lower() in _TRUE
            raise SettingError(self, text, "must be true, false, 1 or 0", source)
        if self.choices:
            if text.lower() not in self.choices:
                raise SettingError(self, text, f"must be one of {', '.join(self.choices)}", source)
            return text.lower()
        if self.kind is int:
            try:
                return int(text)
            except ValueError:
                raise SettingError(self, text, "must be a whole number", source) from None
        if self.kind is float:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise SettingError(self, text, "must be a number", source)
            return number
        return text

    def check(self, value: object, source: Source = "value", *, raw: object = None) -> None:
        """:class:`SettingError` unless ``value`` has this setting's type and bounds."""
        shown = value if raw is None else raw
        if value is None:
            if not self.optional:
                raise SettingError(self, shown, "must be set", source)
            return
        reason = self._problem(value)
        if reason is not None:
            raise SettingError(self, shown, reason, source)

    def _problem(self, value: object) -> str | None:
        if self.kind is bool:
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind is str:
            if not isinstance(value, str):
                return "must be text"
            if self.choices and value not in self.choices:
                return f"must be one of {', '.join(self.choices)}"
            if self.url and not value.startswith(("http://", "https://")):
                return "must be an http:// or https:// URL"
            return None
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return "must be a whole number"
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return "must be a number"
        return self._bounds_problem(value)

    def _bounds_problem(self, value: float) -> str | None:
        fits = True
        if self.minimum is not None:
            fits = fits and value >= self.minimum
        if self.above is not None:
            fits = fits and value > self.above
        if self.maximum is not None:
            fits = fits and value <= self.maximum
        return None if fits else f"must be {self.bounds}"

    @property
    def bounds(self) -> str:
        """The allowed numbers in words: ``between 1 and 65535``, ``above 0 and at most 1``,
        ``at least 1024``; empty when any number will do."""
        if self.minimum is not None and self.maximum is not None:
            return f"between {self.minimum:g} and {self.maximum:g}"
        words = []
        if self.minimum is not None:
            words.append(f"at least {self.minimum:g}")
        if self.above is not None:
            words.append(f"above {self.above:g}")
        if self.maximum is not None:
            words.append(f"at most {self.maximum:g}")
        return " and ".join(words)
