"""The reporting library's error: a report call whose arguments are wrong."""

from __future__ import annotations

from spoolwatch.errors import ConfigError

__all__ = ["ReportError"]


class ReportError(ConfigError):
    """A ``report_*`` argument is wrong; the message names it. Nothing was written.

    A subclass of :class:`~spoolwatch.errors.ConfigError`: the caller fixes the call, there is
    nothing to retry.
    """

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
