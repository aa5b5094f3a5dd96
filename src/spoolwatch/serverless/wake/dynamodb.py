"""The wake switch's wanted state in DynamoDB, applied to the trigger through Lambda's API.

The flag is the item ``pk=wake``, ``sk=switch`` of the state table (see
:mod:`spoolwatch.serverless.dynamodb`), with ``armed`` (BOOL), ``changed_at`` (N, epoch
seconds) and ``why`` (S). No item means armed: the template deploys the trigger enabled.
:func:`read_wake_flag` reads it (one consistent ``Query``, no writes) for the switch and for
``spoolwatch fleet status``.

Arming and disarming is one conditional ``UpdateItem`` that flips the flag, so of many agents
changing it at once only one wins and only that one calls ``UpdateEventSourceMapping``. That
call may fail (the mapping is still applying the previous change, throttling, the network);
the flag stays flipped and :meth:`DynamoWakeSwitch.reconcile` puts the mapping right later.

The agent's role needs ``dynamodb:Query`` and ``dynamodb:UpdateItem`` on the table and
``lambda:GetEventSourceMapping`` and ``lambda:UpdateEventSourceMapping`` on the mapping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from spoolwatch.errors import ConfigError, MissingExtra, SpoolwatchError, TransientError
from spoolwatch.scaling import Clock, SystemClock
from spoolwatch.serverless.dynamodb import _ConditionFailed, _DynamoTable, _n, _num, _s, _str

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("boto3", "serverless") from exc

__all__ = ["WAKE_KEY", "DynamoWakeSwitch", "WakeFlag", "read_wake_flag"]

log = logging.getLogger(__name__)

#: The key of the wake switch's item in the state table.
WAKE_KEY = {"pk": {"S": "wake"}, "sk": {"S": "switch"}}

_ENABLED = frozenset({"Enabled", "Enabling"})
_DISABLED = frozenset({"Disabled", "Disabling"})


@dataclass(frozen=True)
class WakeFlag:
    """The wake switch's wanted state as stored in the state table.

    ``changed_at`` (epoch seconds) and ``why`` are None until an agent or the schedule first
    flips the flag: the trigger is then armed as the template deployed it.
    """

    armed: bool
    changed_at: float | None = None
    why: str | None = None


def read_wake_flag(dynamodb: Any, table: str) -> WakeFlag:
    """The flag from one strongly consistent Query (no writes); armed when the item is absent.

    Raises :class:`~spoolwatch.errors.ConfigError` for a missing table or a denied Query and
    :class:`~spoolwatch.errors.TransientError` for throttling or the network.
    """
    items = _DynamoTable(dynamodb, table).query_all(
        KeyConditionExpression="pk = :pk AND sk = :sk",
        ExpressionAttributeValues={":pk": WAKE_KEY["pk"], ":sk": WAKE_KEY["sk"]},
    )
    if not items:
        return WakeFlag(armed=True)
    item = items[0]
    return WakeFlag(
        armed=bool(item["armed"]["BOOL"]) if "armed" in item else True,
        changed_at=_num(item, "changed_at") if "changed_at" in item else None,
        why=_str(item, "why"),
    )


class _MappingInTransition(TransientError):
    """Lambda is still applying an earlier change to the mapping (ResourceInUseException)."""


class DynamoWakeSwitch:
    """A :class:`~spoolwatch.scaling.wake.WakeSwitch` whose flag lives in the state table.

    Thread-safe (it keeps no state besides the clients). ``arm``/``disarm`` raise
    :class:`~spoolwatch.errors.TransientError` or :class:`~spoolwatch.errors.ConfigError`
    only when the table cannot be written; a failed Lambda call is logged and left to
    :meth:`reconcile`.
    """

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        lambda_client: Any,
        mapping_uuid: str,
        *,
        clock: Clock | None = None,
    ) -> None:
        if not mapping_uuid:
            raise ConfigError("DynamoWakeSwitch: the event source mapping's UUID is empty")
        self._table = _DynamoTable(dynamodb, table)
        self._lambda = lambda_client
        self.mapping_uuid = mapping_uuid
        self._clock = clock or SystemClock()

    def arm(self, why: str) -> bool:
        """Want the trigger on; True when this call flipped the flag (and asked Lambda)."""
        return self._flip(armed=True, why=why)

    def disarm(self, why: str) -> bool:
        """Want the trigger off; True when this call flipped the flag (and asked Lambda)."""
        return self._flip(armed=False, why=why)

    def armed(self) -> bool:
        """The wanted state (one consistent Query); True when the item is absent."""
        return read_wake_flag(self._table.client, self._table.table).armed

    def reconcile(self) -> str | None:
        """Make the mapping match the flag: ``"enabled"``, ``"disabled"`` or None.

        None when the mapping already matches or is in transition (Creating, Updating, ...;
        the next call sees where it settled). A missing mapping or a denied call raises
        :class:`~spoolwatch.errors.ConfigError`; throttling or the network,
        :class:`~spoolwatch.errors.TransientError`.
        """
        armed = self.armed()
        state = str(self._call("get_event_source_mapping", UUID=self.mapping_uuid).get("State"))
        if armed and state in _DISABLED:
            wanted = True
        elif not armed and state in _ENABLED:
            wanted = False
        else:
            return None
        try:
            self._call("update_event_source_mapping", UUID=self.mapping_uuid, Enabled=wanted)
        except _MappingInTransition:
            return None
        done = "enabled" if wanted else "disabled"
        log.info("wake trigger %s: it was %s while %s", done, state, _wanted(armed))
        return done

    def _flip(self, *, armed: bool, why: str) -> bool:
        """One conditional UpdateItem from the other value; then ask Lambda to follow."""
        # Absent means armed, so only disarming may find the attribute missing.
        condition = "armed = :was" if armed else "attribute_not_exists(armed) OR armed = :was"
        try:
            self._table.call(
                "update_item",
                Key=WAKE_KEY,
                UpdateExpression="SET armed = :armed, changed_at = :at, why = :why",
                ConditionExpression=condition,
                ExpressionAttributeValues={
                    ":armed": {"BOOL": armed},
                    ":was": {"BOOL": not armed},
                    ":at": _n(self._clock.now()),
                    ":why": _s(why),
                },
            )
        except _ConditionFailed:
            return False
        log.info("wake trigger %s: %s", "armed" if armed else "disarmed", why)
        try:
            self._call("update_event_source_mapping", UUID=self.mapping_uuid, Enabled=armed)
        except SpoolwatchError as exc:
            # The flag is the truth; the schedule's reconcile applies it within one period.
            log.warning(
                "wake trigger %s: the flag is %s but the mapping was not updated (%s); "
                "reconcile will retry",
                self.mapping_uuid,
                _wanted(armed),
                exc,
            )
        return True

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Run ``lambda.<operation>(**kwargs)`` with its errors translated into ours."""
        where = f"event source mapping {self.mapping_uuid} ({operation})"
        try:
            result: dict[str, Any] = getattr(self._lambda, operation)(**kwargs)
            return result
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceInUseException":
                raise _MappingInTransition(f"{where} is being changed: {code}") from exc
            if code == "ResourceNotFoundException":
                raise ConfigError(
                    f"{where} does not exist (check SPOOLWATCH_WAKE_MAPPING): {code}"
                ) from exc
            if code in {"AccessDeniedException", "AccessDenied"}:
                raise ConfigError(
                    f"{where} was denied: the role needs lambda:GetEventSourceMapping and "
                    f"lambda:UpdateEventSourceMapping on the mapping ({code})"
                ) from exc
            raise TransientError(f"{where} failed: {code or 'unknown error'}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"{where} unreachable: {type(exc).__name__}") from exc


def _wanted(armed: bool) -> str:
    return "armed" if armed else "disarmed"
