"""The agent's configuration files: the two formats that fill an :class:`AgentConfig`.

``load_config(path)`` reads either format and returns an :class:`AgentConfig`:

* our YAML (``target``, ``channels``, ``batching``, ``retry``, ``quarantine``, ``dedupe``,
  ``stats``, ``heartbeat``; :data:`EXAMPLE_CONFIG` shows every key), and
* DataRobot's ``mlops.agent.conf.yaml`` as is (``mlopsUrl``, ``apiToken``, ``verifySSL``,
  ``runOnce``, ``dryRun``, ``statsPath``, ``channelConfigs`` with ``FS_SPOOL``,
  ``SQS_SPOOL`` and ``RABBITMQ_SPOOL``); see :mod:`spoolwatch.agent.datarobot_config`.

Every error is a :class:`~spoolwatch.errors.ConfigError` naming the key and the file line
(``agent.yaml:7: channels[0].spool: ...``). The API token comes from an environment
variable, a file, or the config file itself (then the file should be readable only by its
owner); it is held as a :class:`~spoolwatch.sinks.secrets.Secret` and never printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from spoolwatch.agent.config import (
    AgentConfig,
    ChannelConfig,
    DedupeConfig,
    QuarantineConfig,
    RetryConfig,
)
from spoolwatch.agent.datarobot_config import parse_datarobot
from spoolwatch.agent.yaml_source import YamlSource, load_yaml
from spoolwatch.errors import ConfigError
from spoolwatch.sinks.config import BatchingConfig, TargetConfig, display_address
from spoolwatch.sinks.secrets import (
    Secret,
    token_from_env,
    token_from_file,
    warn_if_readable_by_others,
)

__all__ = ["EXAMPLE_CONFIG", "load_config", "parse_config"]

EXAMPLE_CONFIG = """\
# spoolwatch agent configuration. Run it with: spoolwatch agent run --config agent.yaml
target:
  url: http://127.0.0.1:8080          # our service, or https://app.datarobot.com
  kind: spoolwatch                    # spoolwatch | datarobot (datarobot: no heartbeats)
  api_token_env: SPOOLWATCH_API_TOKEN # or api_token_file: /run/secrets/token
  verify_ssl: true
  timeout_seconds: 30
channels:                             # each channel is drained by its own reader
  - name: local
    spool: /var/spool/mlops           # a directory, sqs://NAME, an SQS queue URL,
                                      # amqp://user:pass@host:5672/%2F?queue=NAME, memory://NAME
                                      # file:///var/spool/mlops?create=true: make the
                                      # directory when it is missing
  # - name: queue
  #   spool: https://sqs.us-east-1.amazonaws.com/123456789012/mlops
  #   options: {}                     # passed to the spool transport
batching:
  max_records: 2000                   # records read from a spool at once
  wait_seconds: 0.5                   # how long one read waits for the first record
  max_request_bytes: 1000000          # merged request body limit
  max_records_per_request: 200        # records merged into one request (ids header < 8 KiB)
  max_in_flight: 8                    # requests posted at once to the target
retry:                                # destination down, 5xx, 429: back off, keep records
  initial_seconds: 0.5
  max_seconds: 30
  multiplier: 2
  jitter: 0.25                        # +-25 % random spread
  shutdown_grace_seconds: 10          # on stop, how long the batch in hand may still retry
  server_error_attempts: 3            # a 5xx this often for the same records while the
                                      # target answers otherwise: quarantine those that
                                      # fail alone (502/503/504 and Retry-After: wait)
quarantine:
  unknown_types: skip                 # skip (count and ack) | quarantine (park them)
  max_body_chars: 2000                # response body kept with a rejected record
dedupe:
  max_ids: 100000                     # ids of sent records remembered (redeliveries)
  ttl_seconds: 3600
stats:
  interval_seconds: 10                # a stats line this often
  # path: /var/lib/spoolwatch/agent-stats.json
heartbeat:
  enabled: true                       # posts agent health to our service
  interval_seconds: 30
# agent_id: agent-1                   # default: <host>-<pid>
"""

_TOP_KEYS = {
    "target",
    "channels",
    "batching",
    "retry",
    "quarantine",
    "dedupe",
    "stats",
    "heartbeat",
    "agent_id",
    "dry_run",
    "run_once",
}


def load_config(path: str | os.PathLike[str]) -> AgentConfig:
    """Read an agent config file in either format; ConfigError names the key and line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    return parse_config(text, source=str(file))


def parse_config(text: str, *, source: str = "<config>") -> AgentConfig:
    """Parse config text in either format (DataRobot's is recognised by ``mlopsUrl``)."""
    try:
        doc = load_yaml(text, source)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid YAML: nested too deeply") from None
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of keys to values")
    if "mlopsUrl" in doc.data or "channelConfigs" in doc.data:
        return parse_datarobot(doc)
    return _parse_ours(doc)


def _parse_ours(doc: YamlSource) -> AgentConfig:
    doc.reject_unknown((), _TOP_KEYS)
    target = _parse_target(doc)
    channels = _parse_channels(doc)
    doc.reject_unknown(("batching",), {f.name for f in _fields(BatchingConfig)})
    doc.reject_unknown(("retry",), {f.name for f in _fields(RetryConfig)})
    doc.reject_unknown(("quarantine",), {"unknown_types", "max_body_chars"})
    doc.reject_unknown(("dedupe",), {"max_ids", "ttl_seconds"})
    doc.reject_unknown(("stats",), {"interval_seconds", "path"})
    doc.reject_unknown(("heartbeat",), {"enabled", "interval_seconds"})
    unknown_types = doc.choice(("quarantine", "unknown_types"), ("skip", "quarantine"), "skip")
    try:
        return AgentConfig(
            target=target,
            channels=channels,
            batching=BatchingConfig(
                max_records=doc.integer(("batching", "max_records"), 2000, low=1),
                wait_seconds=doc.number(("batching", "wait_seconds"), 0.5, low=0),
                max_request_bytes=doc.integer(
                    ("batching", "max_request_bytes"), 1_000_000, low=1024
                ),
                max_records_per_request=doc.integer(
                    ("batching", "max_records_per_request"), 200, low=1
                ),
                max_in_flight=doc.integer(("batching", "max_in_flight"), 8, low=1, high=64),
            ),
            retry=RetryConfig(
                initial_seconds=doc.number(("retry", "initial_seconds"), 0.5, low=0.001),
                max_seconds=doc.number(("retry", "max_seconds"), 30.0, low=0.001),
                multiplier=doc.number(("retry", "multiplier"), 2.0, low=1),
                jitter=doc.number(("retry", "jitter"), 0.25, low=0, high=1),
                shutdown_grace_seconds=doc.number(("retry", "shutdown_grace_seconds"), 10.0, low=0),
                server_error_attempts=doc.integer(
                    ("retry", "server_error_attempts"), 3, low=1, high=100
                ),
            ),
            quarantine=QuarantineConfig(
                unknown_types="quarantine" if unknown_types == "quarantine" else "skip",
                max_body_chars=doc.integer(("quarantine", "max_body_chars"), 2000, low=0),
            ),
            dedupe=DedupeConfig(
                max_ids=doc.integer(("dedupe", "max_ids"), 100_000, low=0),
                ttl_seconds=doc.number(("dedupe", "ttl_seconds"), 3600.0, low=0),
            ),
            stats_interval_seconds=doc.number(("stats", "interval_seconds"), 10.0, low=0.1),
            stats_path=doc.string(("stats", "path"), None),
            heartbeat=doc.boolean(("heartbeat", "enabled"), None),
            heartbeat_interval_seconds=doc.number(("heartbeat", "interval_seconds"), 30.0, low=1),
            dry_run=bool(doc.boolean(("dry_run",), False)),
            run_once=bool(doc.boolean(("run_once",), False)),
            agent_id=doc.string(("agent_id",), None),
            source=doc.source,
        )
    except ConfigError as exc:
        if str(exc).startswith(doc.source):
            raise
        raise ConfigError(f"{doc.source}: {exc}") from None


def _fields(cls: type) -> tuple[Any, ...]:
    import dataclasses

    return dataclasses.fields(cls)


def _parse_target(doc: YamlSource) -> TargetConfig:
    if not isinstance(doc.get(("target",)), dict):
        raise doc.error(("target",), "a 'target' mapping with at least 'url' is required")
    doc.reject_unknown(
        ("target",),
        {
            "url",
            "kind",
            "api_token",
            "api_token_env",
            "api_token_file",
            "verify_ssl",
            "timeout_seconds",
        },
    )
    url = doc.string(("target", "url"), None)
    if url is None:
        raise doc.error(("target",), "'url' is required")
    if not url.startswith(("http://", "https://")):
        shown = display_address(url)
        raise doc.error(("target", "url"), f"must start with http:// or https://, got {shown!r}")
    kind = doc.choice(("target", "kind"), ("spoolwatch", "datarobot"), "spoolwatch")
    return TargetConfig(
        url=url,
        api_token=_parse_token(doc),
        kind="datarobot" if kind == "datarobot" else "spoolwatch",
        verify_ssl=bool(doc.boolean(("target", "verify_ssl"), True)),
        timeout_seconds=doc.number(("target", "timeout_seconds"), 30.0, low=0.1),
    )


def _parse_token(doc: YamlSource) -> Secret | None:
    given = [
        k
        for k in ("api_token", "api_token_env", "api_token_file")
        if doc.get(("target", k)) is not None
    ]
    if len(given) > 1:
        raise doc.error(("target", given[1]), f"give only one of {', '.join(given)}")
    if not given:
        if os.environ.get("SPOOLWATCH_API_TOKEN"):
            return token_from_env("SPOOLWATCH_API_TOKEN", where="SPOOLWATCH_API_TOKEN")
        return None
    key = given[0]
    value = doc.string(("target", key), None) or ""
    where = doc.where(("target", key))
    if key == "api_token_env":
        return token_from_env(value, where=where)
    if key == "api_token_file":
        return token_from_file(value, where=where)
    if not value:
        raise doc.error(("target", key), "the token is empty")
    if doc.source and Path(doc.source).is_file():
        warn_if_readable_by_others(Path(doc.source))
    return Secret(value, source=f"config:{doc.source}")


def _parse_channels(doc: YamlSource) -> tuple[ChannelConfig, ...]:
    raw = doc.get(("channels",))
    if not isinstance(raw, list) or not raw:
        raise doc.error(("channels",), "a non-empty list of channels is required")
    channels = []
    for index, item in enumerate(raw):
        path: tuple[str | int, ...] = ("channels", index)
        if not isinstance(item, dict):
            raise doc.error(path, "each channel is a mapping with 'name' and 'spool'")
        doc.reject_unknown(path, {"name", "spool", "options"})
        spool = doc.string((*path, "spool"), None)
        if not spool:
            raise doc.error(path, "'spool' (the spool address) is required")
        options = doc.get((*path, "options")) or {}
        if not isinstance(options, dict):
            raise doc.error((*path, "options"), "must be a mapping")
        name = doc.string((*path, "name"), None) or f"channel{index + 1}"
        channels.append(ChannelConfig(name=name, address=spool, options=dict(options)))
    names = [c.name for c in channels]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise doc.error(("channels", index, "name"), f"channel name {name!r} is used twice")
    return tuple(channels)
