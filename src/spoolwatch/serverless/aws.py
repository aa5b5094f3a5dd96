"""The AWS calls of the Lambda agents, outside DynamoDB (boto3 is imported only here).

* :class:`AgentQueues` — the data queue's backlog, the recruits waiting in the agent queue,
  and posting recruit / hand-off messages.
* :func:`read_config_text` — an agent config from ``s3://bucket/key`` or a local path.
* :func:`fetch_api_token` — the API token from Secrets Manager or SSM Parameter Store.

Clients are created the standard way (``boto3.client(name)``), so ``AWS_ENDPOINT_URL`` and
the usual credential chain apply; every class also takes injected clients.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from spoolwatch.errors import ConfigError, MissingExtra, SpoolUnavailable

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - the [serverless] extra is missing
    boto3 = None  # type: ignore[assignment]

__all__ = ["AgentQueues", "RecruitMessage", "client", "fetch_api_token", "read_config_text"]

log = logging.getLogger(__name__)

_NOT_FOUND = {
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "ResourceNotFoundException",
    "ParameterNotFound",
    "NoSuchKey",
    "NoSuchBucket",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


def client(service: str, *, timeout_seconds: float | None = None) -> Any:
    """A boto3 client created the standard way (``AWS_ENDPOINT_URL`` is honoured).

    ``timeout_seconds`` bounds connecting and reading, with one retry: for callers that
    answer a person and must not wait minutes when AWS cannot be reached.
    """
    if boto3 is None:
        raise MissingExtra("boto3", "serverless")
    config = None
    if timeout_seconds is not None:
        config = Config(
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"max_attempts": 2, "mode": "standard"},
        )
    try:
        return boto3.client(service, config=config)  # type: ignore[call-overload]
    except BotoCoreError as exc:  # e.g. no region configured
        raise ConfigError(f"cannot create the AWS {service} client: {exc}") from exc


def _translate(exc: Exception, what: str) -> Exception:
    """One place that turns botocore errors into ours (never with credentials in them)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _NOT_FOUND:
            return ConfigError(f"{what}: not found ({code})")
        if code in _DENIED:
            return ConfigError(f"{what}: access denied ({code}); check the function's role")
        return SpoolUnavailable(f"{what}: {code or 'AWS error'}")
    return SpoolUnavailable(f"{what}: {type(exc).__name__}")


@dataclass(frozen=True, slots=True)
class RecruitMessage:
    """The body of an agent-queue message: why an agent was asked to start."""

    #: "recruit" (by a decision), "wake" (by the wake function) or "handoff" (a replacement
    #: near the deadline)
    reason: str
    hop: int = 0
    requested_by: str = ""
    #: The recruiter saw records itself (a full read, the wake function's batch): the agent
    #: starts even while the queue's lagging counts still read empty.
    seen: bool = False

    def encode(self) -> str:
        """JSON body."""
        return orjson.dumps(
            {
                "reason": self.reason,
                "hop": self.hop,
                "requestedBy": self.requested_by,
                "seen": self.seen,
            }
        ).decode()

    @classmethod
    def decode(cls, body: str) -> RecruitMessage:
        """Parse a body; anything unreadable counts as a plain recruit (e.g. the recipe's)."""
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return cls("recruit")
        if not isinstance(doc, dict):
            return cls("recruit")
        hop = doc.get("hop", 0)
        return cls(
            reason=str(doc.get("reason", "recruit")),
            hop=hop if isinstance(hop, int) and hop >= 0 else 0,
            requested_by=str(doc.get("requestedBy", "")),
            seen=doc.get("seen") is True,
        )


class AgentQueues:
    """The data queue's backlog and the agent queue's recruits."""

    def __init__(self, data_queue_url: str, agent_queue_url: str, sqs: Any = None) -> None:
        self.data_queue_url = data_queue_url
        self.agent_queue_url = agent_queue_url
        self._sqs = sqs if sqs is not None else client("sqs")

    @property
    def sqs(self) -> Any:
        """The boto3 SQS client these queues use."""
        return self._sqs

    def _attributes(self, url: str, names: list[str]) -> Mapping[str, str]:
        try:
            response = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"SQS queue {url}") from exc
        attributes: Mapping[str, str] = response.get("Attributes", {})
        return attributes

    def data_backlog(self) -> tuple[int, int]:
        """(visible, in flight) records in the data queue."""
        attributes = self._attributes(
            self.data_queue_url,
            ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        return (
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    def pending_recruits(self) -> int:
        """Recruit messages not yet picked up (visible or delayed) in the agent queue.

        Messages in flight there belong to agents that are running (they hold leases), so
        they are not counted twice.
        """
        attributes = self._attributes(
            self.agent_queue_url,
            ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
        )
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesDelayed", 0)
        )

    def recruit(self, count: int, message: RecruitMessage) -> int:
        """Post ``count`` messages to the agent queue; returns how many SQS accepted."""
        sent = 0
        while sent < count:
            batch = min(10, count - sent)
            entries = [{"Id": str(i), "MessageBody": message.encode()} for i in range(batch)]
            try:
                response = self._sqs.send_message_batch(
                    QueueUrl=self.agent_queue_url, Entries=entries
                )
            except (ClientError, BotoCoreError) as exc:
                raise _translate(exc, f"agent queue {self.agent_queue_url}") from exc
            accepted = len(response.get("Successful", []))
            sent += accepted
            if accepted < batch:
                failed = response.get("Failed", [])
                log.warning(
                    "agent queue refused %d recruit message(s): %s",
                    len(failed),
                    [f.get("Code") for f in failed],
                )
                break
        return sent


def read_config_text(location: str, s3: Any = None) -> str:
    """The text of an agent config at ``s3://bucket/key`` or a local path."""
    if location.startswith("s3://"):
        bucket, _, key = location[len("s3://") :].partition("/")
        if not bucket or not key:
            raise ConfigError(f"SPOOLWATCH_AGENT_CONFIG: {location!r} is not s3://bucket/key")
        s3 = s3 if s3 is not None else client("s3")
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"agent config {location}") from exc
        text: str = body.decode("utf-8")
        return text
    path = Path(location)
    if not path.is_file():
        raise ConfigError(f"SPOOLWATCH_AGENT_CONFIG: no file at {location}")
    return path.read_text(encoding="utf-8")


def fetch_api_token(reference: str, *, secrets: Any = None, ssm: Any = None) -> str:
    """The token named by ``reference``: ``ssm:<name>`` / an SSM ARN, else a Secrets Manager id.

    A secret holding JSON is read as ``{"apiToken": ...}`` or ``{"token": ...}``.
    """
    is_ssm = reference.startswith("ssm:") or ":ssm:" in reference
    try:
        if is_ssm:
            name = reference[4:] if reference.startswith("ssm:") else reference
            ssm = ssm if ssm is not None else client("ssm")
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        else:
            secrets = secrets if secrets is not None else client("secretsmanager")
            value = secrets.get_secret_value(SecretId=reference)["SecretString"]
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc, "SPOOLWATCH_API_TOKEN_SECRET") from exc
    token = str(value).strip()
    if token.startswith("{"):
        try:
            doc = orjson.loads(token)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            token = str(doc.get("apiToken") or doc.get("token") or "").strip()
    if not token:
        raise ConfigError("SPOOLWATCH_API_TOKEN_SECRET: the secret holds no token")
    return token
