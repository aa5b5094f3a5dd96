"""The agent: reads spools, hands the records to a sink (DataRobot REST calls, or a store),
acks.

Public API (see :mod:`spoolwatch.agent.loop` for the run semantics)::

    Agent                                                # spoolwatch.agent.loop
    AgentResult, EXIT_CODES                              # spoolwatch.agent.result
    AgentConfig, ChannelConfig, RetryConfig, QuarantineConfig, DedupeConfig
                                                         # spoolwatch.agent.config
    load_config, parse_config                            # spoolwatch.agent.config_file
    TargetConfig, BatchingConfig                         # spoolwatch.sinks.config
    Secret                                               # spoolwatch.sinks.secrets
"""

from __future__ import annotations

from spoolwatch.agent.config import (
    AgentConfig,
    ChannelConfig,
    DedupeConfig,
    QuarantineConfig,
    RetryConfig,
)
from spoolwatch.agent.config_file import load_config, parse_config
from spoolwatch.agent.loop import Agent
from spoolwatch.agent.result import EXIT_CODES, AgentResult
from spoolwatch.sinks.config import BatchingConfig, TargetConfig
from spoolwatch.sinks.secrets import Secret

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
