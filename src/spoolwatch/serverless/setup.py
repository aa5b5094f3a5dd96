"""Build a :class:`ServerlessAgent` from the function's environment, with real AWS clients."""

from __future__ import annotations

from collections.abc import Mapping

from spoolwatch.scaling import CircuitBreaker, LeaseTable, SystemClock
from spoolwatch.serverless.aws import AgentQueues, client, fetch_api_token, read_config_text
from spoolwatch.serverless.dynamodb import DynamoBreakerStore, DynamoLeaseStore
from spoolwatch.serverless.settings import ServerlessSettings
from spoolwatch.serverless.worker import ServerlessAgent, build_agent_config

__all__ = ["from_env"]


def from_env(environ: Mapping[str, str] | None = None) -> ServerlessAgent:
    """Read the settings, fetch the config and token, and wire the AWS adapters."""
    settings = ServerlessSettings.from_env(environ)
    config_text = read_config_text(settings.agent_config) if settings.agent_config else None
    if settings.api_token_secret:
        token: str | None = fetch_api_token(settings.api_token_secret)
    else:
        token = settings.api_token or None
    dynamodb = client("dynamodb")
    sqs = client("sqs")
    clock = SystemClock()
    leases = LeaseTable.from_settings(
        DynamoLeaseStore(dynamodb, settings.state_table), settings.scaling, clock
    )
    breaker = CircuitBreaker(
        DynamoBreakerStore(dynamodb, settings.state_table), settings.scaling, clock
    )
    return ServerlessAgent(
        settings,
        queues=AgentQueues(settings.data_queue_url, settings.agent_queue_url, sqs=sqs),
        leases=leases,
        breaker=breaker,
        agent_config=build_agent_config(settings, config_text=config_text, token=token),
        clock=clock,
        clients=(dynamodb, sqs),
    )
