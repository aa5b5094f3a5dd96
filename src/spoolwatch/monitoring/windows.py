"""Drift (and accuracy) of a period judged as a whole, window by window and for recent spans.

A day whose last six hours drifted and whose first eighteen did not has a mixed distribution
that is only a little away from the baseline: its PSI can stay under the warning threshold
while every one of the six hours is far above it. A period's status is therefore the worst of

* the whole period's judgement (the usual one, :func:`compute_feature_drift`);
* each window's: the given windows (hours, or the query's buckets) pooled with their
  neighbours until each pool holds at least ``min_rows`` rows, newest first
  (:func:`pool_newest_first`), so a deployment with few rows an hour is judged a few hours at
  a time rather than not at all;
* each recent span's: the newest 2, 3, ... pools together. Hours too sparse to show a change
  one by one show it together ("the last six hours, taken together, drifted").

Pools and spans are tested at the significance level divided by their number (Bonferroni):
judging them all raises no more false alarms than judging the day. A window's judgement is
its pool's, or that of the shortest recent span with the worst status when that span is
worse than every pool it holds (an empty window's is unknown). The period's score stays the
whole period's; :attr:`WindowedDrift.peak` is the largest score of the drifting windows, so
a display can say "PSI 0.03 over the day, up to 0.45" rather than contradict its status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from spoolwatch.monitoring.baseline import FeatureBaseline
from spoolwatch.monitoring.binning import IntArray
from spoolwatch.monitoring.drift import DriftConfig, FeatureDrift, compute_feature_drift
from spoolwatch.monitoring.status import DriftStatus, worst_status

__all__ = ["WindowedDrift", "drift_over_windows", "judge_windows", "pool_newest_first"]

J = TypeVar("J")

_ALERTING = (DriftStatus.YELLOW, DriftStatus.RED)


@dataclass(frozen=True)
class WindowedDrift:
    """The period's drift (its status the worst of period and windows) and each window's."""

    drift: FeatureDrift
    #: One per given window: its pool's or recent span's judgement (unknown when empty).
    windows: list[FeatureDrift]

    @property
    def drifting_windows(self) -> int:
        """How many of the given windows are (in a pool judged) yellow or red."""
        return sum(1 for w in self.windows if w.status in _ALERTING)

    @property
    def peak(self) -> float | None:
        """The largest score among the drifting pools (``None`` when none drifts)."""
        scores = [w.value for w in self.windows if w.status in _ALERTING and w.value is not None]
        return max(scores, default=None)


def pool_newest_first(sizes: Sequence[int], min_rows: int) -> list[list[int]]:
    """Indexes of consecutive windows pooled until each pool has ``min_rows`` rows, starting
    from the newest (last) window; the oldest pool may stay short. Pools are in time order."""
    pools: list[list[int]] = []
    current: list[int] = []
    rows = 0
    for index in range(len(sizes) - 1, -1, -1):
        current.insert(0, index)
        rows += sizes[index]
        if rows >= min_rows:
            pools.insert(0, current)
            current, rows = [], 0
    if current:
        pools.insert(0, current)
    return pools


def judge_windows(
    sizes: Sequence[int],
    min_rows: int,
    judge: Callable[[list[int], int], J],
    severity: Callable[[J], int],
) -> list[J]:
    """One judgement per window (see the module docstring).

    ``judge(indexes, tests)`` judges the windows ``indexes`` together at the significance
    level divided by ``tests``; ``judge([i], 1)`` of an empty window must say unknown.
    ``severity`` orders judgements (yellow is 2, red 3).
    """
    pools = pool_newest_first(sizes, min_rows)
    spans = [[i for pool in pools[first:] for i in pool] for first in range(len(pools) - 2, 0, -1)]
    full = sum(1 for pool in pools if sum(sizes[i] for i in pool) >= min_rows)
    tests = max(full + len(spans), 1)
    judged: list[J | None] = [None] * len(sizes)
    for pool in pools:
        one = judge(pool, tests)
        for i in pool:
            judged[i] = one
    worst: tuple[J, list[int]] | None = None
    for span in spans:  # shortest first: the most recent evidence wins ties
        one = judge(span, tests)
        # A span only tells something new when it is worse than every pool it holds.
        explained = max(severity(j) for i in span if (j := judged[i]) is not None)
        new = severity(one) >= 2 and severity(one) > explained
        if new and (worst is None or severity(one) > severity(worst[0])):
            worst = (one, span)
    if worst is not None:
        for i in worst[1]:
            current = judged[i]
            if current is None or severity(worst[0]) > severity(current):
                judged[i] = worst[0]
    return [judge([i], 1) if not sizes[i] else j for i, j in enumerate(judged) if j is not None]


def drift_over_windows(
    feature: FeatureBaseline,
    total: IntArray | Sequence[int] | None,
    windows: Sequence[IntArray | Sequence[int] | None],
    config: DriftConfig | None = None,
) -> WindowedDrift:
    """Drift of ``feature`` over a period (``total`` counts) and its ``windows``' counts.

    ``None`` counts are empty ones. The windows' counts should add up to ``total``.
    """
    config = config or DriftConfig()

    def counts(value: IntArray | Sequence[int] | None) -> IntArray:
        if value is None:
            return np.zeros(feature.n_bins, dtype=np.int64)
        return np.asarray(value, dtype=np.int64)

    window_counts = [counts(w) for w in windows]

    def judge(indexes: list[int], tests: int) -> FeatureDrift:
        together = np.sum([window_counts[i] for i in indexes], axis=0)
        return compute_feature_drift(feature, together, replace(config, alpha=config.alpha / tests))

    per_window = judge_windows(
        [int(w.sum()) for w in window_counts],
        config.min_rows,
        judge,
        lambda drift: drift.status.severity,
    )
    whole = compute_feature_drift(feature, counts(total), config)
    status = worst_status([whole.status, *(w.status for w in per_window)])
    if status is not whole.status:
        whole = replace(whole, status=status)
    return WindowedDrift(whole, per_window)
