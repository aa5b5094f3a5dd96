"""What one agent run did: :class:`AgentResult`, its exit code and main failure kind, and
:data:`EXIT_CODES` (those of ``spoolwatch agent run``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EXIT_CODES", "AgentResult"]

#: Exit codes of ``spoolwatch agent run``.
EXIT_CODES = {
    0: "done: everything read was delivered, quarantined or skipped",
    1: "stopped with records left un-acked because the destination kept failing",
    2: "bad configuration or arguments (or a channel could not be opened for that reason), "
    "or the destination refused the API token",
    130: "interrupted by SIGINT/SIGTERM (after a graceful stop)",
}


@dataclass
class AgentResult:
    """What one :meth:`~spoolwatch.agent.loop.Agent.run` did. Counts are over all channels."""

    records_read: int = 0
    records_sent: int = 0
    rows_sent: int = 0
    requests: int = 0
    quarantined: int = 0
    skipped: int = 0
    duplicates: int = 0
    retries: int = 0
    unacked: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    channel_errors: dict[str, str] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped_by: str = "empty"
    elapsed: float = 0.0
    #: Why the agent did not run at all (the destination refused its credentials).
    error: str | None = None

    @property
    def failed_because(self) -> str | None:
        """The main destination failure kind (``auth``, ``http_5xx``, ``http_429``,
        ``connection``, ``timeout``) when records were left un-acked or the agent could not
        run, else ``None``."""
        if not self.unacked and not self.error:
            return None
        kinds = {k: v for k, v in self.failures.items() if not k.startswith("spool")}
        return max(kinds, key=lambda k: kinds[k]) if kinds else "unavailable"

    @property
    def exit_code(self) -> int:
        """See :data:`EXIT_CODES`."""
        if self.channel_errors or self.error:
            return 2
        if self.unacked:
            return 1
        if self.stopped_by == "signal":
            return 130
        return 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        data = dict(self.__dict__)
        data["exit_code"] = self.exit_code
        data["failed_because"] = self.failed_because
        return data
