"""Enumerations of DataRobot's record format, with the ordinals the binary format stores."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ROUTABLE_TYPES", "DataFormat", "DataType", "data_type_from_wire"]


class DataType(IntEnum):
    """What a record carries. Ordinals are DataRobot's; names are written in JSON envelopes."""

    INVALID = 0
    FEATURE_DRIFT = 1
    TARGET_DRIFT = 2
    DEPLOYMENT_STATS = 3
    FEATURE_DATA = 4
    PREDICTIONS_STATS_SC_CLASSIFICATION = 5
    PREDICTIONS_STATS_SC_REGRESSION = 6
    PREDICTIONS_DATA = 7
    EVENT = 8
    ACTUALS_DATA = 9
    PREDICTION_STATS = 10
    CUSTOM_METRIC = 11
    PING_MSG = 12


class DataFormat(IntEnum):
    """How the payload is carried: binary frames say BYTE_ARRAY, envelopes say ``json``."""

    BYTE_ARRAY = 0
    JSON = 1
    INVALID = 2


#: Types with a known schema and a REST destination; the rest are counted and skipped.
ROUTABLE_TYPES = frozenset(
    {
        DataType.DEPLOYMENT_STATS,
        DataType.PREDICTIONS_DATA,
        DataType.EVENT,
        DataType.ACTUALS_DATA,
        DataType.PREDICTION_STATS,
        DataType.CUSTOM_METRIC,
    }
)

_BY_NAME = {member.name: member for member in DataType}
_BY_ORDINAL = {member.value: member for member in DataType}


def data_type_from_wire(value: object) -> DataType | int | str:
    """Map a wire value (name or ordinal) to a DataType; unknown values are carried as given."""
    if isinstance(value, str):
        return _BY_NAME.get(value, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _BY_ORDINAL.get(value, value)
    return str(value)
