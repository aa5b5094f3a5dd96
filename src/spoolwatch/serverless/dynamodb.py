"""DynamoDB storage for lease slots and the circuit breaker (boto3 is imported only here).

ONE table, on-demand (PAY_PER_REQUEST), holds every item:

===============  ==================  ============================================
item             ``pk`` (S, hash)    ``sk`` (S, range)
===============  ==================  ============================================
lease slot *i*   ``lease#<pool>``    ``slot#0000`` ... ``slot#<N-1>`` (4 digits)
breaker state    ``breaker#<name>``  ``state``
breaker failure  ``breaker#<name>``  ``failure#<at as %017.6f>#<uuid hex>``
wake switch      ``wake``            ``switch``
===============  ==================  ============================================

Other attributes: a lease has ``holder`` (S), ``acquired_at`` and ``expires_at`` (N, epoch
seconds with fractions); the breaker state has ``state`` (S: closed/open), ``version`` (N),
``opened_at``, ``cooldown_seconds``, ``closed_at``, ``probe_expires_at`` (N),
``probe_holder`` and ``reason`` (S); a failure has ``at`` (N), ``kind`` and ``reason`` (S),
``expires_at`` (N); the wake switch has ``armed`` (BOOL; no item means armed),
``changed_at`` (N) and ``why`` (S) (see :mod:`spoolwatch.serverless.wake.dynamodb`).

TTL: the table's TTL attribute is ``expires_at_ttl`` (N, integer epoch seconds). Failure
records carry it (their ``expires_at``, rounded up) so DynamoDB deletes them after
``failure_ttl_seconds``; lease items carry it one hour after their lease expires, so slots
left behind (e.g. after lowering the target concurrency) disappear. TTL deletion is lazy, so
correctness never depends on it: claims compare ``expires_at`` in their condition. The
breaker's state item and the wake switch have no TTL.

Every read is a strongly consistent ``Query`` over one partition (no scans); every change is
one conditional ``PutItem``/``UpdateItem``/``DeleteItem``. The Lambda role needs
``dynamodb:Query``, ``PutItem``, ``UpdateItem`` and ``DeleteItem`` on the table. Clients are
injected (``boto3.client("dynamodb")``); nothing is created at import time.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import TYPE_CHECKING, Any

from spoolwatch.errors import ConfigError, MissingExtra, TransientError
from spoolwatch.scaling.base import (
    BreakerRecord,
    BreakerState,
    BreakerStore,
    ClaimResult,
    FailureKind,
    FailureRecord,
    Lease,
    LeaseStore,
)
from spoolwatch.scaling.ceiling import LearnedCeiling

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("boto3", "serverless") from exc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

__all__ = [
    "TTL_ATTRIBUTE",
    "DynamoBreakerStore",
    "DynamoCeilingStore",
    "DynamoLeaseStore",
    "create_table",
]

log = logging.getLogger(__name__)

#: The table's TTL attribute (integer epoch seconds).
TTL_ATTRIBUTE = "expires_at_ttl"
#: How long a lease item outlives its lease before TTL may delete it.
LEASE_TTL_GRACE_SECONDS = 3600

_CONFIG_CODES = {
    "ResourceNotFoundException": "does not exist (create it, or check the table name/region)",
    "ValidationException": "rejected the request as invalid (is the key schema pk/sk strings?)",
    "AccessDeniedException": "denied access (the role needs Query/PutItem/UpdateItem/DeleteItem)",
    "UnrecognizedClientException": "did not accept the credentials",
}


class _ConditionFailed(Exception):
    """A conditional write lost; ``item`` is the current item when DynamoDB returned it."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("conditional check failed")
        self.item = item


class _DynamoTable:
    """Calls on one table with vendor errors translated in one place."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        if not table:
            raise ConfigError("DynamoDB table name must not be empty")
        self.client = client
        self.table = table

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Run ``client.<operation>(TableName=..., **kwargs)``; raise ours on failure."""
        try:
            result: dict[str, Any] = getattr(self.client, operation)(TableName=self.table, **kwargs)
            return result
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                item = exc.response.get("Item")
                raise _ConditionFailed(item if isinstance(item, dict) else None) from None
            where = f"DynamoDB table {self.table!r} ({operation})"
            if code in _CONFIG_CODES:
                raise ConfigError(f"{where} {_CONFIG_CODES[code]}: {code}") from exc
            raise TransientError(f"{where} failed: {code or 'unknown error'}") from exc
        except BotoCoreError as exc:
            raise TransientError(
                f"DynamoDB table {self.table!r} ({operation}) unreachable: {type(exc).__name__}"
            ) from exc

    def query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Every item of a strongly consistent query, following pagination."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.call("query", ConsistentRead=True, **kwargs)
            items.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            kwargs["ExclusiveStartKey"] = last


def _n(value: float) -> dict[str, str]:
    return {"N": f"{value:.6f}"}


def _int(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _num(item: dict[str, Any], name: str, default: float = 0.0) -> float:
    return float(item[name]["N"]) if name in item else default


def _str(item: dict[str, Any], name: str) -> str | None:
    return str(item[name]["S"]) if name in item else None


def _ttl(expires_at: float, grace: float = 0) -> dict[str, str]:
    return _int(math.ceil(expires_at + grace))


# --- leases -------------------------------------------------------------------------------


class DynamoLeaseStore(LeaseStore):
    """Lease slots as items ``pk=lease#<pool>``, ``sk=slot#<i>`` (see the module docstring)."""

    def __init__(self, client: DynamoDBClient, table: str, *, pool: str = "default") -> None:
        if not pool:
            raise ConfigError("DynamoLeaseStore: pool must not be empty")
        self._table = _DynamoTable(client, table)
        self.pk = f"lease#{pool}"

    def _key(self, slot: int) -> dict[str, Any]:
        return {"pk": _s(self.pk), "sk": _s(f"slot#{slot:04d}")}

    def _lease(self, item: dict[str, Any]) -> Lease:
        return Lease(
            slot=int(str(item["sk"]["S"]).split("#", 1)[1]),
            holder=_str(item, "holder") or "",
            acquired_at=_num(item, "acquired_at"),
            expires_at=_num(item, "expires_at"),
        )

    def try_claim(self, slot: int, holder: str, now: float, expires_at: float) -> ClaimResult:
        """One conditional PutItem: wins if the slot is absent or its lease expired."""
        item = {
            **self._key(slot),
            "holder": _s(holder),
            "acquired_at": _n(now),
            "expires_at": _n(expires_at),
            TTL_ATTRIBUTE: _ttl(expires_at, LEASE_TTL_GRACE_SECONDS),
        }
        try:
            self._table.call(
                "put_item",
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": _n(now)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _ConditionFailed as lost:
            current = self._lease(lost.item) if lost.item else None
            return ClaimResult(won=False, current=current)
        return ClaimResult(won=True)

    def renew(self, slot: int, holder: str, expires_at: float) -> bool:
        """Conditional UpdateItem on ``holder``."""
        try:
            self._table.call(
                "update_item",
                Key=self._key(slot),
                UpdateExpression="SET expires_at = :exp, #ttl = :ttl",
                ConditionExpression="holder = :holder",
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":exp": _n(expires_at),
                    ":ttl": _ttl(expires_at, LEASE_TTL_GRACE_SECONDS),
                    ":holder": _s(holder),
                },
            )
        except _ConditionFailed:
            return False
        return True

    def release(self, slot: int, holder: str) -> bool:
        """Conditional DeleteItem on ``holder``."""
        try:
            self._table.call(
                "delete_item",
                Key=self._key(slot),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": _s(holder)},
            )
        except _ConditionFailed:
            return False
        return True

    def read_all(self, slots: int) -> list[Lease]:
        """One consistent Query over the pool's partition."""
        items = self._table.query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :slot)",
            ExpressionAttributeValues={":pk": _s(self.pk), ":slot": _s("slot#")},
        )
        leases = [self._lease(item) for item in items]
        return sorted((lease for lease in leases if lease.slot < slots), key=lambda x: x.slot)


# --- circuit breaker ----------------------------------------------------------------------


class DynamoBreakerStore(BreakerStore):
    """One breaker's state and failures in partition ``pk=breaker#<name>``."""

    def __init__(self, client: DynamoDBClient, table: str, *, name: str = "default") -> None:
        if not name:
            raise ConfigError("DynamoBreakerStore: name must not be empty")
        self._table = _DynamoTable(client, table)
        self.pk = f"breaker#{name}"

    def read_state(self) -> BreakerRecord:
        """Consistent Query for the ``state`` item; closed version 0 when absent."""
        items = self._table.query_all(
            KeyConditionExpression="pk = :pk AND sk = :sk",
            ExpressionAttributeValues={":pk": _s(self.pk), ":sk": _s("state")},
        )
        if not items:
            return BreakerRecord()
        item = items[0]
        return BreakerRecord(
            state=BreakerState(_str(item, "state") or BreakerState.CLOSED.value),
            version=int(_num(item, "version")),
            opened_at=_num(item, "opened_at"),
            cooldown_seconds=_num(item, "cooldown_seconds"),
            closed_at=_num(item, "closed_at"),
            probe_holder=_str(item, "probe_holder"),
            probe_expires_at=_num(item, "probe_expires_at"),
            reason=_str(item, "reason") or "",
        )

    def write_state(self, record: BreakerRecord, expected_version: int) -> bool:
        """Conditional PutItem: absent when ``expected_version`` is 0, else version equal."""
        item: dict[str, Any] = {
            "pk": _s(self.pk),
            "sk": _s("state"),
            "state": _s(record.state.value),
            "version": _int(record.version),
            "opened_at": _n(record.opened_at),
            "cooldown_seconds": _n(record.cooldown_seconds),
            "closed_at": _n(record.closed_at),
            "probe_expires_at": _n(record.probe_expires_at),
            "reason": _s(record.reason),
        }
        if record.probe_holder is not None:
            item["probe_holder"] = _s(record.probe_holder)
        condition: dict[str, Any]
        if expected_version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": _int(expected_version)},
            }
        try:
            self._table.call("put_item", Item=item, **condition)
        except _ConditionFailed:
            return False
        return True

    def add_failure(self, failure: FailureRecord) -> None:
        """PutItem of a failure item with its TTL (unique sort key, so never overwrites)."""
        self._table.call(
            "put_item",
            Item={
                "pk": _s(self.pk),
                "sk": _s(f"failure#{failure.at:017.6f}#{uuid.uuid4().hex}"),
                # Exact (repr), not 6 decimals: rounded up, the failure would read back
                # later than the moment it is counted at, and not count towards opening.
                "at": {"N": repr(float(failure.at))},
                "kind": _s(failure.kind.value),
                "reason": _s(failure.reason),
                "expires_at": _n(failure.expires_at),
                TTL_ATTRIBUTE: _ttl(failure.expires_at),
            },
        )

    def failures_since(self, since: float, limit: int) -> list[FailureRecord]:
        """Consistent Query on the failure sort-key range, newest first, ``Limit=limit``."""
        page = self._table.call(
            "query",
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": _s(self.pk),
                ":lo": _s(f"failure#{since:017.6f}"),
                ":hi": _s("failure#~"),
            },
            ScanIndexForward=False,
            Limit=max(1, int(limit)),
        )
        return [
            FailureRecord(
                at=_num(item, "at"),
                kind=FailureKind(_str(item, "kind") or FailureKind.AGENT_CRASH.value),
                reason=_str(item, "reason") or "",
                expires_at=_num(item, "expires_at"),
            )
            for item in page.get("Items", [])
        ]


# --- table --------------------------------------------------------------------------------


def create_table(client: DynamoDBClient, name: str, *, wait: bool = True) -> None:
    """Create the state table (on-demand, ``pk``/``sk`` strings, TTL on ``expires_at_ttl``).

    For tests and local use; deployments create it from the SAM template. An existing table
    raises :class:`~spoolwatch.errors.ConfigError`.
    """
    table = _DynamoTable(client, name)
    try:
        table.call(
            "create_table",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
    except TransientError as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and (
            cause.response.get("Error", {}).get("Code") == "ResourceInUseException"
        ):
            raise ConfigError(f"DynamoDB table {name!r} already exists") from cause
        raise
    if wait:
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    table.call(
        "update_time_to_live",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    log.info("created DynamoDB table %s with TTL on %s", name, TTL_ATTRIBUTE)


# --- the learned ceiling -------------------------------------------------------------------


class DynamoCeilingStore:
    """The fleet's learned ceiling (:class:`~spoolwatch.scaling.ceiling.CeilingStore`) as one
    item ``pk=ceiling#<name>``, ``sk=state``: ``agents`` and ``until``; DynamoDB's TTL
    removes it a day after it ran out."""

    def __init__(self, client: DynamoDBClient, table: str, *, name: str = "default") -> None:
        if not name:
            raise ConfigError("DynamoCeilingStore: name must not be empty")
        self._table = _DynamoTable(client, table)
        self.pk = f"ceiling#{name}"

    def read(self) -> LearnedCeiling | None:
        """The ceiling last written (one strongly consistent Query), or None."""
        items = self._table.query_all(
            KeyConditionExpression="pk = :pk AND sk = :sk",
            ExpressionAttributeValues={":pk": _s(self.pk), ":sk": _s("state")},
        )
        if not items or "agents" not in items[0] or "until" not in items[0]:
            return None
        item = items[0]
        return LearnedCeiling(agents=max(1, int(_num(item, "agents"))), until=_num(item, "until"))

    def write(self, ceiling: LearnedCeiling) -> None:
        """Keep ``ceiling`` (the last write wins)."""
        self._table.call(
            "put_item",
            Item={
                "pk": _s(self.pk),
                "sk": _s("state"),
                "agents": _int(ceiling.agents),
                "until": _n(ceiling.until),
                TTL_ATTRIBUTE: _ttl(ceiling.until, grace=86_400),
            },
        )
