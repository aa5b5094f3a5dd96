"""Build a :class:`ServerlessAgent` from the function's environment, with real AWS clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from spoolwatch.agent.config import AgentConfig, ChannelConfig
from spoolwatch.agent.config_file import parse_config
from spoolwatch.scaling import CircuitBreaker, LeaseTable, SystemClock
from spoolwatch.scaling.session import LAMBDA_BATCH_RECORDS
from spoolwatch.scaling.wake import NoWakeSwitch, WakeSwitch
from spoolwatch.serverless.aws import AgentQueues, client, fetch_api_token, read_config_text
from spoolwatch.serverless.dynamodb import DynamoBreakerStore, DynamoCeilingStore, DynamoLeaseStore
from spoolwatch.serverless.settings import ServerlessSettings
from spoolwatch.serverless.wake.dynamodb import DynamoWakeSwitch
from spoolwatch.serverless.worker import ServerlessAgent
from spoolwatch.sinks.config import BatchingConfig, TargetConfig
from spoolwatch.sinks.secrets import Secret

__all__ = ["LAMBDA_BATCH_RECORDS", "build_agent_config", "from_env"]


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
    clients: tuple[Any, ...] = (dynamodb, sqs)
    wake: WakeSwitch = NoWakeSwitch()
    if settings.wake_mapping:
        lambda_client = client("lambda")
        wake = DynamoWakeSwitch(
            dynamodb, settings.state_table, lambda_client, settings.wake_mapping, clock=clock
        )
        clients = (*clients, lambda_client)
    return ServerlessAgent(
        settings,
        queues=AgentQueues(settings.data_queue_url, settings.agent_queue_url, sqs=sqs),
        leases=leases,
        breaker=breaker,
        agent_config=build_agent_config(settings, config_text=config_text, token=token),
        clock=clock,
        wake=wake,
        clients=clients,
        ceiling=DynamoCeilingStore(dynamodb, settings.state_table),
    )


def build_agent_config(
    settings: ServerlessSettings, *, config_text: str | None, token: str | None
) -> AgentConfig:
    """The agent's config: the optional file, pointed at the data queue and the destination."""
    channel = ChannelConfig(name="sqs", address=settings.data_queue_url)
    where = (
        f"the secret SPOOLWATCH_API_TOKEN_SECRET names ({settings.api_token_secret})"
        if settings.api_token_secret
        else "env:SPOOLWATCH_API_TOKEN"
    )
    secret = Secret(token, source=where) if token else None
    if config_text:
        config = parse_config(config_text, source=settings.agent_config)
        target = config.target
        if settings.destination_url or secret is not None:
            target = TargetConfig(
                url=settings.destination_url or target.url,
                api_token=secret or target.api_token,
                kind=target.kind,
                verify_ssl=target.verify_ssl,
                timeout_seconds=target.timeout_seconds,
            )
        batching = dataclasses.replace(config.batching, wait_seconds=settings.idle_seconds)
        return dataclasses.replace(config, target=target, channels=(channel,), batching=batching)
    kind: Literal["spoolwatch", "datarobot"] = (
        "datarobot" if settings.destination_kind == "datarobot" else "spoolwatch"
    )
    return AgentConfig(
        target=TargetConfig(url=settings.destination_url, api_token=secret, kind=kind),
        channels=(channel,),
        # Read batches of 100 from SQS (10 receives): a crash between send and delete
        # repeats at most that many records, and the first records go out sooner.
        # A read waits up to idle_seconds for its first record: the agent stops only after
        # that long without one (SQS long polls, one request per 20 s while idle).
        batching=BatchingConfig(
            max_records=LAMBDA_BATCH_RECORDS, wait_seconds=settings.idle_seconds
        ),
    )
