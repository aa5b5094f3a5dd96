"""The :class:`Reporter`: what a model calls to report monitoring data into a spool.

Each ``report_*`` call validates its arguments, builds every record of the report (split as
DataRobot's library splits it), and only then writes them with one ``spool.write`` call, so a
bad argument raises :class:`~spoolwatch.report.errors.ReportError` and writes nothing. In
background mode the built records go to a bounded buffer instead (see
:mod:`spoolwatch.report.background`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from spoolwatch.errors import ConfigError
from spoolwatch.records import DataType, Record
from spoolwatch.records.timestamps import now_local
from spoolwatch.report import convert, split
from spoolwatch.report.background import BackgroundWriter, Dropped
from spoolwatch.report.config import ReporterConfig
from spoolwatch.report.errors import ReportError
from spoolwatch.report.predictions import TimeSeries, predictions_report
from spoolwatch.spools.base import Spool

__all__ = ["DROP_EVENT_TYPE", "Reporter"]

log = logging.getLogger(__name__)

#: ``eventType`` of the EVENT record that tells how many reports background mode dropped.
DROP_EVENT_TYPE = "spoolwatch.reports_dropped"


class Reporter:
    """Reports a model's monitoring data (service stats, predictions, actuals, custom metrics,
    events) into a spool, in DataRobot's record format.

    ``spool`` is a :class:`~spoolwatch.spools.Spool`, an address for
    :func:`~spoolwatch.spools.open_spool`, or ``None`` to open the spool the configuration
    names. Settings not given as arguments come from ``config`` or, without it, from the
    environment (:meth:`ReporterConfig.from_env`). A spool passed as an object stays the
    caller's to close; a spool the reporter opened is closed by :meth:`close`. With
    ``create=True`` a filesystem spool's missing directory is made (the same as
    ``file:///path?create=true``).

    Thread-safe: several threads may report at once.
    """

    def __init__(
        self,
        spool: Spool | str | None = None,
        *,
        config: ReporterConfig | None = None,
        deployment_id: str | None = None,
        model_id: str | None = None,
        background: bool | None = None,
        buffer_size: int | None = None,
        max_block_seconds: float | None = None,
        rows_per_record: int | None = None,
        association_id_column_name: str | None = None,
        clock: Callable[[], datetime] = now_local,
        create: bool = False,
    ) -> None:
        base = config if config is not None else ReporterConfig.from_env()
        self.config = base.replace(
            deployment_id=deployment_id,
            model_id=model_id,
            background=background,
            buffer_size=buffer_size,
            max_block_seconds=max_block_seconds,
            rows_per_record=rows_per_record,
            association_id_column_name=association_id_column_name,
        )
        self._clock = clock
        self._owns_spool = not isinstance(spool, Spool)
        if isinstance(spool, Spool):
            if create:
                raise ConfigError(
                    "create=True applies to a spool the Reporter opens from an address; "
                    "pass create=True to the spool object instead"
                )
            self._spool = spool
        else:
            self._spool = self.config.open_spool(spool, create=create)
        self._lock = threading.Lock()
        self._closed = False
        self._last_deployment_id: str | None = None
        self._writer: BackgroundWriter | None = None
        if self.config.background:
            self._writer = BackgroundWriter(
                self._spool,
                buffer_size=self.config.buffer_size,
                max_block_seconds=self.config.max_block_seconds,
                write_retries=self.config.write_retries,
                drop_event=self._drop_event,
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **arguments: Any) -> Reporter:
        """A reporter configured by ``SPOOLWATCH_*`` / ``MLOPS_*`` variables; arguments win."""
        spool = arguments.pop("spool", None)
        clock = arguments.pop("clock", now_local)
        create = bool(arguments.pop("create", False))
        config = ReporterConfig.from_env(environ, **arguments)
        return cls(spool, config=config, clock=clock, create=create)

    @property
    def spool(self) -> Spool:
        """The spool records are written to."""
        return self._spool

    @property
    def dropped(self) -> Dropped:
        """Reports and records dropped by background mode (always zero in synchronous mode)."""
        return self._writer.dropped if self._writer is not None else Dropped()

    # -- ids and writing --------------------------------------------------------------------

    def _deployment(self, deployment_id: str | None) -> str:
        value = deployment_id if deployment_id is not None else self.config.deployment_id
        if not isinstance(value, str) or not value:
            raise ReportError(
                "deployment_id",
                "no deployment id: pass deployment_id=, or set SPOOLWATCH_DEPLOYMENT_ID or "
                "MLOPS_DEPLOYMENT_ID",
            )
        return value

    def _model(self, model_id: str | None) -> str:
        value = model_id if model_id is not None else self.config.model_id
        if not isinstance(value, str) or not value:
            raise ReportError(
                "model_id",
                "no model id: pass model_id=, or set SPOOLWATCH_MODEL_ID or MLOPS_MODEL_ID",
            )
        return value

    def _byte_limit(self) -> int:
        return int(getattr(self._spool, "record_byte_limit", -1))

    def _rows_per_record(self) -> int:
        return split.rows_per_record(
            self._byte_limit(), self.config.rows_per_record, self.config.max_lines_per_chunk
        )

    def _submit(self, records: list[Record]) -> None:
        if not records:
            return
        if self._closed:
            raise ConfigError("the reporter is closed")
        if self._writer is not None:
            self._last_deployment_id = records[0].deployment_id
            self._writer.submit(records)
            return
        with self._lock:
            self._spool.write(records)

    def _drop_event(self, totals: Dropped, since: Dropped) -> Record | None:
        # Without a default deployment, tell the deployment the model reported to last.
        deployment_id = self.config.deployment_id or self._last_deployment_id
        if not deployment_id:
            return None
        message = (
            f"spoolwatch reporter dropped {since.reports} reports ({since.records} records): "
            f"buffer full {since.buffer_full}, write failed {since.write_failed}"
        )
        data = {
            "modelId": self.config.model_id,
            "droppedReports": since.reports,
            "droppedRecords": since.records,
            "bufferFull": since.buffer_full,
            "writeFailed": since.write_failed,
            "totalDroppedReports": totals.reports,
            "totalDroppedRecords": totals.records,
        }
        payload = convert.event_payload(
            now=self._clock(),
            event_type=DROP_EVENT_TYPE,
            message=message,
            deployment_id=deployment_id,
            data=data,
        )
        return Record.new(DataType.EVENT, deployment_id, payload)

    # -- reports ----------------------------------------------------------------------------

    def report_deployment_stats(
        self,
        num_predictions: int,
        execution_time_ms: float,
        user_error: bool = False,
        system_error: bool = False,
        deployment_id: str | None = None,
        model_id: str | None = None,
        batch_id: str | None = None,
    ) -> None:
        """Service health: how many predictions one or more requests made and how long they took."""
        deployment = self._deployment(deployment_id)
        payload = convert.deployment_stats_payload(
            now=self._clock(),
            model_id=self._model(model_id),
            num_predictions=num_predictions,
            execution_time_ms=execution_time_ms,
            user_error=user_error,
            system_error=system_error,
            batch_id=batch_id,
        )
        self._submit([Record.new(DataType.DEPLOYMENT_STATS, deployment, payload)])

    def report_predictions_data(
        self,
        features_df: Any = None,
        predictions: Any = None,
        association_ids: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        deployment_id: str | None = None,
        model_id: str | None = None,
        skip_drift_tracking: bool = False,
        skip_accuracy_tracking: bool = False,
        batch_id: str | None = None,
        *,
        request_parameters: Mapping[str, Any] | None = None,
        forecast_distance: Sequence[int] | None = None,
        row_index: Sequence[int] | None = None,
        partition: Sequence[datetime] | None = None,
        series_id: Sequence[str | None] | None = None,
    ) -> None:
        """Features and/or predictions for drift and accuracy; large reports are split.

        ``features_df``: a pandas DataFrame, a mapping of column name to values, or a numpy
        structured array. ``predictions``: numbers (regression), rows of class probabilities
        in ``class_names`` order (classification) or strings, as a list or numpy array. Rows
        whose prediction is NaN are removed and reported by an ``externalNaNPredictions`` EVENT
        written just before. The keyword-only arguments are the time-series fields.
        """
        deployment = self._deployment(deployment_id)
        model = self._model(model_id)
        report = predictions_report(
            now=self._clock(),
            deployment_id=deployment,
            model_id=model,
            features=features_df,
            predictions=predictions,
            association_ids=association_ids,
            class_names=class_names,
            batch_id=batch_id,
            skip_drift_tracking=skip_drift_tracking,
            skip_accuracy_tracking=skip_accuracy_tracking,
            time_series=TimeSeries(
                request_parameters=request_parameters,
                forecast_distance=forecast_distance,
                row_index=row_index,
                partition=partition,
                series_id=series_id,
            ),
        )
        records: list[Record] = []
        if report.nan_event is not None:
            records.append(Record.new(DataType.EVENT, deployment, report.nan_event))
        if report.payload is not None:
            parts = split.split_predictions(
                report.payload, self._byte_limit(), self._rows_per_record()
            )
            records.extend(Record.new(DataType.PREDICTIONS_DATA, deployment, p) for p in parts)
        self._submit(records)

    def report_raw_time_series_predictions_data(
        self,
        features_df: Any = None,
        predictions: Any = None,
        association_ids: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        request_parameters: Mapping[str, Any] | None = None,
        forecast_distance: Sequence[int] | None = None,
        row_index: Sequence[int] | None = None,
        partition: Sequence[datetime] | None = None,
        series_id: Sequence[str | None] | None = None,
        deployment_id: str | None = None,
        model_id: str | None = None,
        skip_drift_tracking: bool = False,
        skip_accuracy_tracking: bool = False,
    ) -> None:
        """Time-series predictions, with DataRobot's argument order."""
        self.report_predictions_data(
            features_df,
            predictions,
            association_ids,
            class_names,
            deployment_id,
            model_id,
            skip_drift_tracking,
            skip_accuracy_tracking,
            request_parameters=request_parameters,
            forecast_distance=forecast_distance,
            row_index=row_index,
            partition=partition,
            series_id=series_id,
        )

    def report_actuals(
        self,
        actuals: Sequence[Mapping[str, Any]],
        deployment_id: str | None = None,
        model_id: str | None = None,
    ) -> None:
        """Ground truth: dicts with ``associationId`` (or the configured column) and
        ``actualValue``, optional ``wasActedOn`` (bool) and ``timestamp``; extra keys are kept."""
        deployment = self._deployment(deployment_id)
        payload = convert.actuals_payload(
            actuals,
            model_id=self._model(model_id),
            association_id_column=self.config.association_id_column_name,
        )
        parts = split.split_actuals(payload, self._byte_limit(), self._rows_per_record())
        self._submit([Record.new(DataType.ACTUALS_DATA, deployment, p) for p in parts])

    def report_custom_metric(
        self,
        metric_id: str,
        value: float | Sequence[float],
        timestamp: datetime | Sequence[datetime] | None = None,
        model_id: str | None = None,
        geospatial_coordinate: str | Sequence[str | None] | None = None,
        *,
        deployment_id: str | None = None,
    ) -> None:
        """One value or a list of values of a custom metric.

        ``model_id=None`` reports a deployment-level metric (``modelId: null``); give a model
        id for a model-level metric. ``timestamp`` defaults to now (local time).
        """
        deployment = self._deployment(deployment_id)
        if model_id is not None and (not isinstance(model_id, str) or not model_id):
            raise ReportError("model_id", "must be a non-empty string or None")
        payload = convert.custom_metric_payload(
            now=self._clock(),
            metric_id=metric_id,
            value=value,
            timestamp=timestamp,
            model_id=model_id,
            geospatial_coordinate=geospatial_coordinate,
        )
        limit = self._byte_limit()
        buckets = split.custom_metric_buckets_per_record(
            limit, self.config.custom_metric_rows_per_record
        )
        parts = split.split_custom_metric(payload, limit, buckets)
        self._submit([Record.new(DataType.CUSTOM_METRIC, deployment, p) for p in parts])

    def report_deployment_metric(
        self,
        metric_id: str,
        value: float | Sequence[float],
        timestamp: datetime | Sequence[datetime] | None = None,
        deployment_id: str | None = None,
        model_id: str | None = None,
        geospatial_coordinate: str | Sequence[str | None] | None = None,
    ) -> None:
        """DataRobot's name for a deployment-level custom metric (model id passed through)."""
        self.report_custom_metric(
            metric_id,
            value,
            timestamp,
            model_id,
            geospatial_coordinate,
            deployment_id=deployment_id,
        )

    def report_model_metric(
        self,
        metric_id: str,
        value: float | Sequence[float],
        timestamp: datetime | Sequence[datetime] | None = None,
        deployment_id: str | None = None,
        model_id: str | None = None,
        geospatial_coordinate: str | Sequence[str | None] | None = None,
    ) -> None:
        """DataRobot's name for a model-level custom metric (the model id is required)."""
        self.report_custom_metric(
            metric_id,
            value,
            timestamp,
            self._model(model_id),
            geospatial_coordinate,
            deployment_id=deployment_id,
        )

    def report_event(
        self,
        event_type: str,
        message: str,
        data: Mapping[str, Any] | None = None,
        org_id: str | None = None,
        *,
        deployment_id: str | None = None,
    ) -> None:
        """Something that happened (``event_type`` as in DataRobot's event types, or your own)."""
        deployment = self._deployment(deployment_id)
        payload = convert.event_payload(
            now=self._clock(),
            event_type=event_type,
            message=message,
            deployment_id=deployment,
            data=data,
            org_id=org_id,
        )
        self._submit([Record.new(DataType.EVENT, deployment, payload)])

    # -- life cycle -------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until background mode has written (or dropped) every buffered report."""
        return self._writer.flush(timeout) if self._writer is not None else True

    def close(self, timeout: float | None = None) -> None:
        """Write what is buffered (up to ``timeout`` s), then close the spool if it is ours."""
        if self._closed:
            return
        self._closed = True
        finished = self._writer.close(timeout) if self._writer is not None else True
        if self._owns_spool and finished:
            self._spool.close()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
