"""The SQS API calls of the SQS spool: botocore errors translated, batches packed and repeated.

* :func:`make_client` creates the boto3 client when none was injected.
* :func:`translate` is the one place where botocore's exceptions become spoolwatch's:
  credentials, permissions and missing queues are :class:`~spoolwatch.errors.ConfigError`,
  throttling, 5xx and network failures :class:`~spoolwatch.errors.SpoolUnavailable`.
* :func:`pack` groups entries into batches of at most 10 whose bodies and attributes fit in
  one request; :func:`batch_call` sends one, repeating the entries SQS reports as failed
  with the spools' back-off (:mod:`spoolwatch.spools.retry`).
* :func:`browse` receives each waiting message once without consuming any.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from spoolwatch.errors import (
    ConfigError,
    InvalidRecord,
    MissingExtra,
    SpoolUnavailable,
    SpoolwatchError,
)
from spoolwatch.spools.retry import Backoff, attempts
from spoolwatch.spools.sqs_config import MAX_BATCH, MAX_WAIT, SqsConfig

try:
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtra("boto3", "sqs") from exc

__all__ = [
    "Entry",
    "batch_call",
    "browse",
    "call",
    "entry_size",
    "make_client",
    "numbered",
    "pack",
    "receive",
    "translate",
]

logger = logging.getLogger(__name__)

#: One entry of a batch request (``SendMessageBatch``, ``DeleteMessageBatch``, ...).
Entry = dict[str, Any]

#: Between sends of the entries SQS reported as failed.
_REPEAT_BACKOFF = Backoff(initial=0.2, cap=2.0, jitter=0.25)
_CONFIG_CODES = {
    "AWS.SimpleQueueService.NonExistentQueue": "the queue does not exist",
    "QueueDoesNotExist": "the queue does not exist",
    "AccessDenied": "access denied",
    "AccessDeniedException": "access denied",
    "InvalidClientTokenId": "the AWS credentials are not valid",
    "UnrecognizedClientException": "the AWS credentials are not valid",
    "SignatureDoesNotMatch": "the AWS credentials are not valid",
    "ExpiredToken": "the AWS credentials have expired",
    "KMS.AccessDeniedException": "access to the queue's KMS key was denied",
}
_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "RequestTimeout",
    "KmsThrottled",
    "KMS.ThrottlingException",
}


def translate(exc: Exception, action: str, where: str) -> SpoolwatchError:
    """The one place where botocore's exceptions become spoolwatch's."""
    prefix = f"SQS {where}: cannot {action}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _CONFIG_CODES:
            return ConfigError(f"{prefix}: {_CONFIG_CODES[code]} ({code})")
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return SpoolUnavailable(f"{prefix}: {code or status} {message}".rstrip())
        return ConfigError(f"{prefix}: {code} {message}".rstrip())
    name = type(exc).__name__
    if name in {"NoCredentialsError", "PartialCredentialsError", "NoRegionError"}:
        return ConfigError(f"{prefix}: {exc} (configure AWS credentials and region)")
    return SpoolUnavailable(f"{prefix}: {name}: {exc}")


def make_client(config: SqsConfig, where: str) -> Any:
    """A boto3 SQS client for ``config``: few repeats of its own, reads that outlast a long poll."""
    options = BotoConfig(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=MAX_WAIT + 10,
    )
    try:
        return boto3.client(
            "sqs",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            config=options,
        )
    except BotoCoreError as exc:
        raise translate(exc, "create a client", where) from exc


def call(where: str, action: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(**kwargs)`` with botocore's exceptions translated (``where`` names the queue)."""
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action, where) from exc


def entry_size(entry: Entry) -> int:
    """The bytes an entry's body and message attributes count towards a request's limit."""
    size = len(str(entry["MessageBody"]).encode("utf-8"))
    for name, value in entry.get("MessageAttributes", {}).items():
        size += (
            len(name.encode())
            + len(value["DataType"])
            + len(str(value.get("StringValue", "")).encode("utf-8"))
        )
    return size


def pack(entries: list[Entry], limit: int) -> Iterator[list[Entry]]:
    """Up to 10 entries whose bodies and attributes fit together in one request."""
    batch: list[Entry] = []
    size = 0
    for entry in entries:
        size_of_entry = entry_size(entry)
        if batch and (len(batch) == MAX_BATCH or size + size_of_entry > limit):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += size_of_entry
    if batch:
        yield batch


def numbered(entries: list[Entry]) -> dict[str, Entry]:
    """A batch's entries by the ``Id`` each is sent with."""
    return {str(i): entry for i, entry in enumerate(entries)}


def batch_call(
    where: str,
    action: str,
    fn: Callable[..., Any],
    url: str,
    entries: dict[str, Entry],
    *,
    limit: int,
    strict: bool = False,
) -> list[Entry]:
    """Call a batch API; repeat the entries SQS reports as failed, up to ``limit`` attempts
    in all, then raise :class:`~spoolwatch.errors.SpoolUnavailable`.

    Entries that failed through the caller's fault (``SenderFault``) cannot be fixed by
    repeating: with ``strict`` they raise, else they are returned for the caller to log."""
    pending = entries
    for attempt in attempts(limit, _REPEAT_BACKOFF):
        request = [{"Id": key, **value} for key, value in pending.items()]
        reply = call(where, action, fn, QueueUrl=url, Entries=request)
        failed = reply.get("Failed", [])
        if not failed:
            return []
        sender = [f for f in failed if f.get("SenderFault")]
        if sender and strict:
            first = sender[0]
            raise InvalidRecord(
                f"SQS {where}: cannot {action}: SQS refused {len(sender)} records: "
                f"{first.get('Code')} {first.get('Message', '')}".rstrip()
            )
        pending = {f["Id"]: entries[f["Id"]] for f in failed if not f.get("SenderFault")}
        if not pending:
            return sender
        logger.warning(
            "%s: %d entries failed to %s (attempt %d); repeating",
            where,
            len(pending),
            action,
            attempt,
        )
    raise SpoolUnavailable(
        f"SQS {where}: cannot {action}: {len(pending)} entries still failed after {limit} attempts"
    )


def receive(
    where: str, client: Any, url: str, count: int, wait: int, visibility: int | None
) -> list[Any]:
    """One ``ReceiveMessage`` of at most ``count`` (and 10) messages, waiting ``wait`` s."""
    kwargs: dict[str, Any] = {
        "QueueUrl": url,
        "MaxNumberOfMessages": max(1, min(count, MAX_BATCH)),
        "WaitTimeSeconds": wait,
        "MessageSystemAttributeNames": [
            "ApproximateReceiveCount",
            "SentTimestamp",
            "MessageGroupId",
        ],
        "MessageAttributeNames": ["All"],
    }
    if visibility is not None:
        kwargs["VisibilityTimeout"] = visibility
    reply = call(where, "receive messages", client.receive_message, **kwargs)
    return list(reply.get("Messages", []))


def browse(
    where: str, client: Any, url: str, limit: int | None, *, hide: int, attempts_limit: int
) -> Iterator[dict[str, Any]]:
    """Each waiting message once, without consuming any.

    Messages looked at are hidden for ``hide`` seconds so that the next receive returns
    others, and made visible again (visibility 0) when browsing ends."""
    handles: list[str] = []
    seen: set[str] = set()
    try:
        while limit is None or len(seen) < limit:
            wanted = MAX_BATCH if limit is None else limit - len(seen)
            received = receive(where, client, url, wanted, 0, hide)
            handles.extend(m["ReceiptHandle"] for m in received)
            fresh = [m for m in received if m["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh[:wanted]:
                seen.add(message["MessageId"])
                yield message
    finally:
        for start in range(0, len(handles), MAX_BATCH):
            chunk = handles[start : start + MAX_BATCH]
            batch_call(
                where,
                "make browsed messages visible again",
                client.change_message_visibility_batch,
                url,
                numbered([{"ReceiptHandle": h, "VisibilityTimeout": 0} for h in chunk]),
                limit=attempts_limit,
            )
