"""Accuracy status of a deployment: its health metric over a period against a reference.

The reference is the metric over the deployment's first ``accuracy_reference_rows`` (default
500) joined predictions in prediction-time order, measured on all of its data whatever period
is asked for: the model's accuracy when it went live, unless the deployment gives its own
baseline value. A deployment's own accuracy settings (metric, thresholds, baseline) win over
the service's. The judgement itself is :mod:`spoolwatch.monitoring.accuracy_health`.

The period and its buckets are judged from their hourly aggregates
(:func:`judge_aggregates`); the reference is read from the first joined rows by the
prediction-time index, a read bounded by the reference's size, not by the rows stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.monitoring.accuracy_health import (
    AccuracyHealthConfig,
    AccuracyJudgement,
    ScoreSummary,
    judge_period,
    row_scores,
)
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.accuracy import JoinedRows
from spoolwatch.store.accuracy_reads import reference_sample
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment

__all__ = ["accuracy_config", "judge_aggregates", "judge_rows"]

logger = logging.getLogger(__name__)


def accuracy_config(
    settings: ServerSettings, deployment: Deployment | None = None
) -> AccuracyHealthConfig:
    """The deployment's own accuracy settings where it has them, else the service's
    thresholds and the target type's default metric; minimum rows from the service."""
    own = deployment.accuracy if deployment is not None else None
    if own is None:
        return AccuracyHealthConfig(
            yellow=settings.accuracy_yellow,
            red=settings.accuracy_red,
            min_rows=settings.accuracy_min_rows,
        )
    return AccuracyHealthConfig(
        metric=own.metric,
        yellow=settings.accuracy_yellow if own.yellow is None else own.yellow,
        red=settings.accuracy_red if own.red is None else own.red,
        baseline_value=own.baseline_value,
        min_rows=settings.accuracy_min_rows,
    )


def _summary(deployment: Deployment, metric: str, rows: JoinedRows) -> ScoreSummary:
    predictions = rows.predictions
    if deployment.target_type == "binary":
        # The stored probability is the positive class's; the other class has the rest.
        predictions = np.column_stack([1.0 - predictions, predictions])
    try:
        scores = row_scores(
            metric, deployment.target_type, rows.actuals, predictions, deployment.class_names
        )
    except (ConfigError, ValueError, TypeError):  # e.g. an unknown class name
        return ScoreSummary.of(metric, [])
    return ScoreSummary.of(metric, scores)


def _reference(
    store: Store, deployment: Deployment, metric: str, limit: int
) -> ScoreSummary | None:
    rows = reference_sample(store, deployment, limit)
    return _summary(deployment, metric, rows) if len(rows) else None


def _config_metric(
    settings: ServerSettings, deployment: Deployment
) -> tuple[AccuracyHealthConfig, str] | None:
    try:
        config = accuracy_config(settings, deployment)
        return config, config.metric_for(deployment.target_type)
    except ConfigError as exc:
        logger.warning("deployment %s: %s", deployment.id, exc)
        return None


def judge_aggregates(
    store: Store,
    deployment: Deployment,
    settings: ServerSettings,
    total: AccuracyAggregate,
    buckets: Sequence[AccuracyAggregate],
) -> tuple[AccuracyJudgement, list[AccuracyJudgement]] | None:
    """The period's and each bucket's judgement from their aggregates; ``None`` when the
    deployment's metric does not apply (a misconfigured deployment is logged, not fatal)."""
    return _judge(
        store,
        deployment,
        settings,
        lambda metric: (
            total.score_summary(metric),
            [bucket.score_summary(metric) for bucket in buckets],
        ),
    )


def judge_rows(
    store: Store,
    deployment: Deployment,
    settings: ServerSettings,
    rows: JoinedRows,
    buckets: Sequence[JoinedRows],
) -> tuple[AccuracyJudgement, list[AccuracyJudgement]] | None:
    """The period's and each bucket's judgement of joined ``rows``; ``None`` when the
    deployment's metric does not apply (a misconfigured deployment is logged, not fatal)."""
    return _judge(
        store,
        deployment,
        settings,
        lambda metric: (
            _summary(deployment, metric, rows),
            [_summary(deployment, metric, bucket) for bucket in buckets],
        ),
    )


def _judge(
    store: Store,
    deployment: Deployment,
    settings: ServerSettings,
    summaries: Callable[[str], tuple[Any, list[Any]]],
) -> tuple[AccuracyJudgement, list[AccuracyJudgement]] | None:
    """The deployment's metric and reference, then ``judge_period`` of the period's and the
    buckets' summaries of that metric; ``None`` when the metric does not apply."""
    chosen = _config_metric(settings, deployment)
    if chosen is None:
        return None
    config, metric = chosen
    reference = None
    if config.baseline_value is None:
        reference = _reference(store, deployment, metric, settings.accuracy_reference_rows)
    total, windows = summaries(metric)
    return judge_period(total, windows, reference, config)
