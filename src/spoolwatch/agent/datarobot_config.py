"""DataRobot's own agent configuration (``mlops.agent.conf.yaml``), read as is.

Keys used: ``mlopsUrl``, ``apiToken`` (else ``MLOPS_API_TOKEN`` / ``DATAROBOT_API_TOKEN`` from
the environment), ``verifySSL``, ``runOnce``, ``dryRun``, ``statsPath`` and
``channelConfigs``. Other keys of DataRobot's file (HTTP tuning, logging, prediction
environment) mean nothing to this agent and are ignored. Channel types ``FS_SPOOL``,
``SQS_SPOOL`` and ``RABBITMQ_SPOOL`` are supported; ``KAFKA_SPOOL`` and ``PUBSUB_SPOOL`` are
rejected with an error naming the line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from spoolwatch.agent.config import AgentConfig, ChannelConfig
from spoolwatch.agent.yaml_source import YamlSource
from spoolwatch.sinks.config import TargetConfig, display_address
from spoolwatch.sinks.secrets import Secret, token_from_env, warn_if_readable_by_others

__all__ = ["parse_datarobot"]

logger = logging.getLogger(__name__)

_TOKEN_ENV = ("MLOPS_API_TOKEN", "DATAROBOT_API_TOKEN")


def parse_datarobot(doc: YamlSource) -> AgentConfig:
    """Turn a parsed ``mlops.agent.conf.yaml`` into an :class:`AgentConfig`."""
    url = doc.string(("mlopsUrl",), None)
    if not url:
        raise doc.error(("mlopsUrl",), "DataRobot agent config needs 'mlopsUrl'")
    if not url.startswith(("http://", "https://")):
        shown = display_address(url)
        raise doc.error(("mlopsUrl",), f"must start with http:// or https://, got {shown!r}")
    channels = doc.get(("channelConfigs",))
    if not isinstance(channels, list) or not channels:
        raise doc.error(("channelConfigs",), "a non-empty list of channels is required")
    return AgentConfig(
        target=TargetConfig(
            url=url,
            api_token=_token(doc),
            kind="datarobot",
            verify_ssl=bool(doc.boolean(("verifySSL",), True)),
        ),
        channels=tuple(_channel(doc, index) for index in range(len(channels))),
        dry_run=bool(doc.boolean(("dryRun",), False)),
        run_once=bool(doc.boolean(("runOnce",), False)),
        stats_path=doc.string(("statsPath",), None),
        source=doc.source,
    )


def _token(doc: YamlSource) -> Secret | None:
    token = doc.string(("apiToken",), None)
    if token:
        if Path(doc.source).is_file():
            warn_if_readable_by_others(Path(doc.source))
        return Secret(token, source=f"config:{doc.source}")
    for name in _TOKEN_ENV:
        if os.environ.get(name):
            return token_from_env(name, where=name)
    logger.warning(
        "%s has no apiToken and %s are unset: requests go without Authorization",
        doc.source,
        " / ".join(_TOKEN_ENV),
    )
    return None


def _detail(doc: YamlSource, path: tuple[str | int, ...], *names: str) -> str | None:
    for name in names:
        value = doc.string((*path, "details", name), None)
        if value:
            return value
    return None


def _channel(doc: YamlSource, index: int) -> ChannelConfig:
    path: tuple[str | int, ...] = ("channelConfigs", index)
    kind = doc.string((*path, "type"), None)
    if not isinstance(doc.get((*path, "details")), dict):
        raise doc.error(path, "each channel needs 'type' and a 'details' mapping")
    name = _detail(doc, path, "name") or f"channel{index + 1}"
    if kind == "FS_SPOOL":
        directory = _detail(doc, path, "spoolDirectoryPath")
        if not directory:
            raise doc.error((*path, "details"), "FS_SPOOL needs 'spoolDirectoryPath'")
        return ChannelConfig(name=name, address=directory)
    if kind == "SQS_SPOOL":
        queue_url = _detail(doc, path, "queueUrl")
        queue_name = _detail(doc, path, "queueName")
        if not queue_url and not queue_name:
            raise doc.error((*path, "details"), "SQS_SPOOL needs 'queueUrl' or 'queueName'")
        return ChannelConfig(name=name, address=queue_url or f"sqs://{queue_name}")
    if kind == "RABBITMQ_SPOOL":
        queue_url = _detail(doc, path, "queueUrl", "rabbitmq_queue_url")
        queue_name = _detail(doc, path, "queueName", "rabbitmq_queue_name")
        if not queue_url or not queue_name:
            raise doc.error((*path, "details"), "RABBITMQ_SPOOL needs 'queueUrl' and 'queueName'")
        return ChannelConfig(name=name, address=_with_queue(queue_url, queue_name))
    if kind in {"KAFKA_SPOOL", "PUBSUB_SPOOL"}:
        raise doc.error((*path, "type"), f"{kind} channels are not supported by spoolwatch")
    raise doc.error(
        (*path, "type"),
        f"unknown channel type {kind!r}; expected FS_SPOOL, SQS_SPOOL or RABBITMQ_SPOOL",
    )


def _with_queue(url: str, queue: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "queue"] + [("queue", queue)]
    return urlunsplit(parts._replace(query=urlencode(query)))
