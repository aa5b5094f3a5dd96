"""The agent: reads spools, converts records to DataRobot REST calls, sends, acks.

Public API (see :mod:`spoolwatch.agent.loop` for the run semantics)::

    Agent, AgentResult, EXIT_CODES                       # spoolwatch.agent.loop
    AgentConfig, TargetConfig, ChannelConfig, BatchingConfig, RetryConfig,
    QuarantineConfig, DedupeConfig, load_config, parse_config   # spoolwatch.agent.config
    Secret                                               # spoolwatch.agent.secrets
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "EXIT_CODES",
    "Agent",
    "AgentConfig",
    "AgentResult",
    "BatchingConfig",
    "ChannelConfig",
    "DedupeConfig",
    "QuarantineConfig",
    "RetryConfig",
    "Secret",
    "TargetConfig",
    "load_config",
    "parse_config",
]

_WHERE = {
    "Agent": "loop",
    "AgentResult": "loop",
    "EXIT_CODES": "loop",
    "Secret": "secrets",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that spoolwatch.sinks can import agent.config without an import cycle.
    if name not in __all__:
        raise AttributeError(f"module 'spoolwatch.agent' has no attribute {name!r}")
    module = importlib.import_module(f"spoolwatch.agent.{_WHERE.get(name, 'config')}")
    return getattr(module, name)
