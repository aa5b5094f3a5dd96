"""The parts of Lambda's context object the handler uses."""

from __future__ import annotations

from typing import Protocol

__all__ = ["InvocationContext"]


class InvocationContext(Protocol):
    """The parts of Lambda's context object the agent uses."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...
