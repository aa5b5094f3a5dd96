"""The record envelope: a header plus a payload, as every spool carries it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from spoolwatch.records.types import DataFormat, DataType

__all__ = ["RECORD_VERSION", "WIRE_LANGUAGE", "WIRE_LIB_VERSION", "Record"]

#: Envelope version DataRobot's library writes and reads.
RECORD_VERSION = 2
#: Written into ``header.language``; DataRobot's tools treat it as informational.
WIRE_LANGUAGE = "python"
#: Written into ``header.libVersion``: the version of the wire format we are compatible with.
WIRE_LIB_VERSION = "11.2.62"


def uuid4() -> str:
    """A random UUID version 4 as text, the same as ``str(uuid.uuid4())`` at a third of its
    cost (one per record written)."""
    digits = os.urandom(16).hex()
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


@dataclass(slots=True)
class Record:
    """One monitoring record.

    ``id`` is the envelope's ``header.id`` (a UUID4 from DataRobot's library); binary frames
    carry none, so the filesystem spool gives them a content-and-position id when reading.
    ``data_type`` is a :class:`DataType`, or the raw wire value when it is not one we know:
    unknown types are carried through so they can be counted and skipped, never crash a reader.
    ``payload`` is the decoded payload object; unknown fields in it are kept.
    """

    deployment_id: str | None
    data_type: DataType | int | str
    payload: dict[str, Any]
    id: str | None = None
    data_format: DataFormat = DataFormat.JSON
    version: int = RECORD_VERSION
    language: str = WIRE_LANGUAGE
    lib_version: str = WIRE_LIB_VERSION
    reserved: str = ""
    data_len: int | None = field(default=None, compare=False)
    header_extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, data_type: DataType, deployment_id: str | None, payload: dict[str, Any]) -> Record:
        """A fresh record as DataRobot's library would write it, with a random UUID4 id."""
        return cls(deployment_id=deployment_id, data_type=data_type, payload=payload, id=uuid4())

    @property
    def known_type(self) -> DataType | None:
        """The data type if it is one of DataRobot's, else ``None``."""
        return self.data_type if isinstance(self.data_type, DataType) else None

    @property
    def type_name(self) -> str:
        """The data type as written in JSON envelopes (unknown ordinals as ``UNKNOWN_<n>``)."""
        if isinstance(self.data_type, DataType):
            return self.data_type.name
        if isinstance(self.data_type, int):
            return f"UNKNOWN_{self.data_type}"
        return str(self.data_type)

    @property
    def model_id(self) -> str | None:
        """The payload's ``modelId`` when it is a string."""
        value = self.payload.get("modelId")
        return value if isinstance(value, str) else None

    def row_count(self) -> int:
        """Prediction or actual rows carried (0 for other types)."""
        if self.data_type == DataType.PREDICTIONS_DATA:
            predictions = self.payload.get("predictions")
            if isinstance(predictions, list):
                return len(predictions)
            features = self.payload.get("features")
            if isinstance(features, dict):
                for values in features.values():
                    return len(values) if isinstance(values, list) else 0
            return 0
        if self.data_type == DataType.ACTUALS_DATA:
            actuals = self.payload.get("actualsList")
            return len(actuals) if isinstance(actuals, list) else 0
        return 0
