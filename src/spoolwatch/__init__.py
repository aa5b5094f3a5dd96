"""spoolwatch: monitoring for machine-learning models deployed anywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spoolwatch.version import __version__

__all__ = ["Reporter", "__version__"]

if TYPE_CHECKING:
    from spoolwatch.report import Reporter


def __getattr__(name: str) -> Any:
    # Lazy so that ``import spoolwatch`` stays cheap for the CLI and the Lambda handler.
    if name == "Reporter":
        from spoolwatch.report import Reporter

        return Reporter
    raise AttributeError(name)
