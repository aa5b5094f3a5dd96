"""Typed configuration of the :class:`~spoolwatch.report.Reporter`.

Every field can come from an argument, a ``SPOOLWATCH_<SUFFIX>`` variable or DataRobot's
``MLOPS_<SUFFIX>`` variable (and DataRobot's legacy names), in that order of precedence:
**explicit argument > SPOOLWATCH_* > MLOPS_* > legacy MLOPS_* > default**. A model already
configured for DataRobot's library therefore works unchanged, and a ``SPOOLWATCH_*`` variable
can override one setting without touching the rest. The variables are read with
pydantic-settings (:mod:`spoolwatch.settings_env`); a value that cannot be read is a
:class:`~spoolwatch.errors.ConfigError` naming the variable that was set.

Settings that contradict each other (an SQS queue URL and a different queue name, a RabbitMQ
client certificate without its key, ``BYTE_ARRAY`` on a queue, a spool address naming another
transport than the spooler type) raise :class:`~spoolwatch.errors.ConfigError` naming the
settings; values are never echoed, as URLs may hold passwords.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, ValidationInfo, create_model, field_validator

from spoolwatch.errors import ConfigError
from spoolwatch.settings_env import EnvSettings, Variable, load_env
from spoolwatch.spools.base import Spool

__all__ = ["ENV_SUFFIXES", "SPOOLER_TYPES", "ReporterConfig"]

log = logging.getLogger(__name__)

#: Spooler types spoolwatch writes to (DataRobot's legacy names are accepted too).
SPOOLER_TYPES = ("FILESYSTEM", "SQS", "RABBITMQ", "MEMORY")
_LEGACY_TYPES = {"OUTPUT_DIR": "FILESYSTEM", "RABBIT_MQ": "RABBITMQ"}
_DATA_FORMATS = ("JSON", "BYTE_ARRAY")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}

#: field → (variable suffix, legacy MLOPS suffix or None, whether DataRobot has it).
ENV_SUFFIXES: dict[str, tuple[str, str | None, bool]] = {
    "spooler_type": ("SPOOLER_TYPE", "OUTPUT_TYPE", True),
    "spool_address": ("SPOOL_ADDRESS", None, False),
    "filesystem_directory": ("FILESYSTEM_DIRECTORY", "SPOOLER_DIR_PATH", True),
    "data_format": ("SPOOLER_DATA_FORMAT", None, True),
    "filesystem_max_file_size": ("FILESYSTEM_MAX_FILE_SIZE", "SPOOLER_FILE_MAX_SIZE", True),
    "filesystem_max_num_files": ("FILESYSTEM_MAX_NUM_FILES", "SPOOLER_MAX_FILES", True),
    "spooler_checksum": ("SPOOLER_CHECKSUM", None, True),
    "filesystem_max_record_bytes": ("FILESYSTEM_MAX_RECORD_BYTES", None, False),
    "filesystem_fsync": ("FILESYSTEM_FSYNC", None, False),
    "sqs_queue_url": ("SQS_QUEUE_URL", None, True),
    "sqs_queue_name": ("SQS_QUEUE_NAME", None, True),
    "rabbitmq_queue_url": ("RABBITMQ_QUEUE_URL", "RABBITMQ_URL", True),
    "rabbitmq_queue_name": ("RABBITMQ_QUEUE_NAME", None, True),
    "rabbitmq_ssl_ca_certificate_path": ("RABBITMQ_SSL_CA_CERTIFICATE_PATH", None, True),
    "rabbitmq_ssl_certificate_path": ("RABBITMQ_SSL_CERTIFICATE_PATH", None, True),
    "rabbitmq_ssl_keyfile_path": ("RABBITMQ_SSL_KEYFILE_PATH", None, True),
    "rabbitmq_ssl_tls_version": ("RABBITMQ_SSL_TLS_VERSION", None, True),
    "deployment_id": ("DEPLOYMENT_ID", None, True),
    "model_id": ("MODEL_ID", None, True),
    "rows_per_record": ("FEATURE_DATA_ROWS_IN_ONE_MESSAGE", None, True),
    "max_lines_per_chunk": ("PREDICTIONS_DATA_MAX_LINES_PER_CHUNK", None, True),
    "custom_metric_rows_per_record": ("CUSTOM_METRIC_ROWS_IN_ONE_MESSAGE", None, True),
    "background": ("ASYNC_REPORTING", None, True),
    "association_id_column_name": ("ASSOCIATION_ID_COLUMN_NAME", None, True),
    "buffer_size": ("REPORT_BUFFER_SIZE", None, False),
    "max_block_seconds": ("REPORT_MAX_BLOCK_SECONDS", None, False),
    "write_retries": ("REPORT_WRITE_RETRIES", None, False),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ReporterConfig:
    """Everything a :class:`~spoolwatch.report.Reporter` needs; see the module docstring."""

    #: ``FILESYSTEM``, ``SQS``, ``RABBITMQ`` or ``MEMORY`` (legacy ``OUTPUT_DIR``, ``RABBIT_MQ``).
    spooler_type: str | None = None
    #: Any :func:`~spoolwatch.spools.open_spool` address, instead of the per-type settings.
    spool_address: str | None = None
    filesystem_directory: str | None = None
    #: ``JSON`` or ``BYTE_ARRAY`` (filesystem only).
    data_format: str = "JSON"
    filesystem_max_file_size: int | None = None
    filesystem_max_num_files: int | None = None
    #: Binary filesystem frames: write the CRC-32 (``MLOPS_SPOOLER_CHECKSUM``, default true).
    spooler_checksum: bool | None = None
    #: Filesystem: the largest record written (default: the service's request body limit).
    filesystem_max_record_bytes: int | None = None
    #: Filesystem: ``fsync`` every write so records survive a power loss (default false).
    filesystem_fsync: bool | None = None
    sqs_queue_url: str | None = None
    sqs_queue_name: str | None = None
    rabbitmq_queue_url: str | None = None
    rabbitmq_queue_name: str | None = None
    rabbitmq_ssl_ca_certificate_path: str | None = None
    rabbitmq_ssl_certificate_path: str | None = None
    rabbitmq_ssl_keyfile_path: str | None = None
    rabbitmq_ssl_tls_version: str | None = None
    deployment_id: str | None = None
    model_id: str | None = None
    #: Rows per PREDICTIONS_DATA / ACTUALS_DATA record; ``None`` derives it from the spool.
    rows_per_record: int | None = None
    max_lines_per_chunk: int = 10_000
    custom_metric_rows_per_record: int | None = None
    #: Write from a background thread through a bounded buffer.
    background: bool = False
    association_id_column_name: str = "associationId"
    #: Background mode: how many reports the buffer holds.
    buffer_size: int = 1_000
    #: Background mode: the longest a ``report_*`` call waits for room in a full buffer.
    max_block_seconds: float = 0.05
    #: Background mode: attempts after a failed spool write before the report is dropped.
    write_retries: int = 3

    def __post_init__(self) -> None:
        if self.spooler_type is not None:
            kind = self.spooler_type.strip().upper()
            kind = _LEGACY_TYPES.get(kind, kind)
            if kind not in SPOOLER_TYPES:
                raise ConfigError(
                    f"spooler_type (SPOOLWATCH_SPOOLER_TYPE / MLOPS_SPOOLER_TYPE): "
                    f"{self.spooler_type!r} is not supported; use one of {', '.join(SPOOLER_TYPES)}"
                )
            object.__setattr__(self, "spooler_type", kind)
        if self.data_format not in _DATA_FORMATS:
            raise ConfigError(
                f"data_format (SPOOLWATCH_SPOOLER_DATA_FORMAT / MLOPS_SPOOLER_DATA_FORMAT): "
                f"{self.data_format!r} is not JSON or BYTE_ARRAY"
            )
        for name in ("buffer_size", "max_lines_per_chunk"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.max_block_seconds < 0 or self.write_retries < 0:
            raise ConfigError("max_block_seconds and write_retries must not be negative")
        if not self.association_id_column_name:
            raise ConfigError("association_id_column_name: must not be empty")
        self._check_conflicts()

    def _check_conflicts(self) -> None:
        if self.spool_address and self.spooler_type:
            from spoolwatch.spools.registry import transport_of

            if transport_of(self.spool_address).upper() != self.spooler_type:
                raise ConfigError(
                    "spool_address (SPOOLWATCH_SPOOL_ADDRESS) names a different transport than "
                    "spooler_type (SPOOLWATCH_SPOOLER_TYPE / MLOPS_SPOOLER_TYPE); set one of them"
                )
        if self.data_format == "BYTE_ARRAY" and self.spooler_type not in (None, "FILESYSTEM"):
            raise ConfigError(
                "data_format BYTE_ARRAY (MLOPS_SPOOLER_DATA_FORMAT) is only for the FILESYSTEM "
                f"spooler, not {self.spooler_type}"
            )
        if self.sqs_queue_url and self.sqs_queue_name:
            url_name = urlsplit(self.sqs_queue_url).path.rstrip("/").rsplit("/", 1)[-1]
            if url_name != self.sqs_queue_name:
                raise ConfigError(
                    "MLOPS_SQS_QUEUE_URL / SPOOLWATCH_SQS_QUEUE_URL and MLOPS_SQS_QUEUE_NAME / "
                    "SPOOLWATCH_SQS_QUEUE_NAME name different queues; set only one of them"
                )
        if bool(self.rabbitmq_ssl_certificate_path) != bool(self.rabbitmq_ssl_keyfile_path):
            raise ConfigError(
                "RabbitMQ mutual TLS needs MLOPS_RABBITMQ_SSL_CERTIFICATE_PATH and "
                "MLOPS_RABBITMQ_SSL_KEYFILE_PATH together (or SPOOLWATCH_ equivalents)"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ReporterConfig:
        """Read ``SPOOLWATCH_*`` and ``MLOPS_*`` variables; ``overrides`` (not None) win."""
        _log_overridden(os.environ if environ is None else environ)
        values = load_env(_ReporterEnv, environ).model_dump(exclude_unset=True)
        unknown = set(overrides) - {field.name for field in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown reporter settings: {', '.join(sorted(unknown))}")
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> ReporterConfig:
        """A copy with ``changes`` applied (``None`` values are ignored)."""
        changes = {key: value for key, value in changes.items() if value is not None}
        return dataclasses.replace(self, **changes) if changes else self

    def spool_target(self) -> tuple[str, dict[str, Any]]:
        """The :func:`~spoolwatch.spools.open_spool` address and options these settings name."""
        if self.spool_address:
            return self.spool_address, {}
        if self.spooler_type is None:
            raise ConfigError(
                "no spool configured: pass a spool, or set SPOOLWATCH_SPOOLER_TYPE / "
                "MLOPS_SPOOLER_TYPE (FILESYSTEM, SQS, RABBITMQ, MEMORY) or SPOOLWATCH_SPOOL_ADDRESS"
            )
        if self.spooler_type == "FILESYSTEM":
            return self._filesystem_target()
        if self.spooler_type == "SQS":
            if self.sqs_queue_url:
                return self.sqs_queue_url, {}
            if self.sqs_queue_name:
                return f"sqs://{self.sqs_queue_name}", {}
            raise ConfigError("SQS spooler needs MLOPS_SQS_QUEUE_URL or MLOPS_SQS_QUEUE_NAME")
        if self.spooler_type == "RABBITMQ":
            return self._rabbitmq_target()
        return "memory://default", {}

    def _filesystem_target(self) -> tuple[str, dict[str, Any]]:
        if not self.filesystem_directory:
            raise ConfigError(
                "FILESYSTEM spooler needs MLOPS_FILESYSTEM_DIRECTORY (or "
                "SPOOLWATCH_FILESYSTEM_DIRECTORY)"
            )
        options: dict[str, Any] = {"data_format": self.data_format}
        if self.filesystem_max_file_size is not None:
            options["max_file_size"] = self.filesystem_max_file_size
        if self.filesystem_max_num_files is not None:
            options["max_files"] = self.filesystem_max_num_files
        if self.spooler_checksum is not None:
            options["checksum"] = self.spooler_checksum
        if self.filesystem_max_record_bytes is not None:
            options["max_record_bytes"] = self.filesystem_max_record_bytes
        if self.filesystem_fsync is not None:
            options["fsync"] = self.filesystem_fsync
        return self.filesystem_directory, options

    def _rabbitmq_target(self) -> tuple[str, dict[str, Any]]:
        if not self.rabbitmq_queue_url or not self.rabbitmq_queue_name:
            raise ConfigError(
                "RABBITMQ spooler needs MLOPS_RABBITMQ_QUEUE_URL and MLOPS_RABBITMQ_QUEUE_NAME"
            )
        parts = urlsplit(self.rabbitmq_queue_url)
        query = dict(parse_qsl(parts.query))
        if query.get("queue", self.rabbitmq_queue_name) != self.rabbitmq_queue_name:
            raise ConfigError(
                "MLOPS_RABBITMQ_QUEUE_URL has a ?queue= that differs from "
                "MLOPS_RABBITMQ_QUEUE_NAME; set the queue in one place"
            )
        query["queue"] = self.rabbitmq_queue_name
        address = urlunsplit(parts._replace(query=urlencode(query)))
        tls = {
            "ca_certificate_path": self.rabbitmq_ssl_ca_certificate_path,
            "certificate_path": self.rabbitmq_ssl_certificate_path,
            "keyfile_path": self.rabbitmq_ssl_keyfile_path,
            "tls_version": self.rabbitmq_ssl_tls_version,
        }
        return address, {key: value for key, value in tls.items() if value}

    def open_spool(self, address: str | None = None, *, create: bool = False) -> Spool:
        """Open the spool at ``address`` or, without one, the spool these settings name.

        ``create`` makes a missing filesystem spool directory; it is refused for a queue.
        """
        from spoolwatch.spools.registry import open_spool, transport_of

        options: dict[str, Any] = {}
        if address is None:
            address, options = self.spool_target()
        if create:
            transport = transport_of(address)
            if transport != "filesystem":
                raise ConfigError(
                    f"create=True makes a filesystem spool's directory; the spool {address!r} "
                    f"is a {transport} spool, which spoolwatch does not create"
                )
            options["create"] = True
        return open_spool(address, **options)


def _names(field: str) -> tuple[str, ...]:
    """The variables of ``field``, the winner first: ``SPOOLWATCH_*``, ``MLOPS_*``, legacy."""
    suffix, legacy, in_mlops = ENV_SUFFIXES[field]
    names = [f"SPOOLWATCH_{suffix}"]
    if in_mlops:
        names.append(f"MLOPS_{suffix}")
    if legacy:
        names.append(f"MLOPS_{legacy}")
    return tuple(names)


def _log_overridden(env: Mapping[str, str]) -> None:
    """Say which variable wins where several of a field's are set to different values."""
    for field in ENV_SUFFIXES:
        found = [(name, env[name]) for name in _names(field) if env.get(name, "").strip()]
        if len(found) > 1 and len({value for _, value in found}) > 1:
            log.info("%s is set; it overrides %s", found[0][0], ", ".join(n for n, _ in found[1:]))


def _parse_variable(cls: type[EnvSettings], found: object, info: ValidationInfo) -> Any:
    """The text of the variable that won for a field, parsed as the field's type."""
    if not isinstance(found, Variable):
        return found
    return _parse(str(info.field_name), found.text, found.name)


def _parse(field: str, raw: str, source: str) -> Any:
    kind = ReporterConfig.__dataclass_fields__[field].type
    try:
        if "bool" in str(kind):
            lowered = raw.lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError("expected true/false, yes/no or 1/0")
            return lowered in _TRUE
        if "float" in str(kind):
            return float(raw)
        if "int" in str(kind):
            return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{source}: cannot read {raw!r} ({exc})") from None
    return raw


class _ReporterVariables(EnvSettings):
    """Base of :data:`_ReporterEnv`: its validators see which variable filled a field."""

    tag_variables = True


_ENV_FIELDS: dict[str, Any] = {
    field: (Any, Field(default=None, validation_alias=AliasChoices(*_names(field))))
    for field in ENV_SUFFIXES
}

#: The reporter's variables: a field per entry of :data:`ENV_SUFFIXES`, read from the first of
#: its ``SPOOLWATCH_*``, ``MLOPS_*`` and legacy variables that is set.
_ReporterEnv = create_model(
    "_ReporterEnv",
    __base__=_ReporterVariables,
    __validators__={"parse": field_validator("*", mode="before")(_parse_variable)},
    **_ENV_FIELDS,
)
