"""Drift of a period judged as a whole and hour by hour.

A day whose last six hours drifted and whose first eighteen did not has a mixed distribution
that is only a little away from the baseline: its PSI can stay under the warning threshold
while every one of the six hours is far above it. A period's status is therefore the worst of

* the whole period's drift (the usual judgement, :func:`compute_feature_drift`), and
* each window's (an hour, as stored), with the significance level divided by the number of
  windows that have enough rows (Bonferroni): judging 24 hours raises no more false alarms
  than judging the day.

The period's drift score stays the whole period's; :attr:`WindowedDrift.peak` is the largest
score among the windows judged drifting, so a display can say "PSI 0.03 over the day, up to
0.45 in an hour" rather than contradict its own status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from spoolwatch.monitoring.baseline import FeatureBaseline
from spoolwatch.monitoring.binning import IntArray
from spoolwatch.monitoring.drift import DriftConfig, FeatureDrift, compute_feature_drift
from spoolwatch.monitoring.status import DriftStatus, worst_status

__all__ = ["WindowedDrift", "drift_over_windows"]

_ALERTING = (DriftStatus.YELLOW, DriftStatus.RED)


@dataclass(frozen=True)
class WindowedDrift:
    """The period's drift (its status the worst of period and windows) and each window's."""

    drift: FeatureDrift
    windows: list[FeatureDrift]

    @property
    def drifting_windows(self) -> int:
        """How many windows are yellow or red."""
        return sum(1 for w in self.windows if w.status in _ALERTING)

    @property
    def peak(self) -> float | None:
        """The largest score among the drifting windows (``None`` when none drifts)."""
        scores = [w.value for w in self.windows if w.status in _ALERTING and w.value is not None]
        return max(scores, default=None)


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
    judged = sum(1 for w in window_counts if int(w.sum()) >= config.min_rows)
    per_window_config = replace(config, alpha=config.alpha / max(judged, 1))
    per_window = [compute_feature_drift(feature, w, per_window_config) for w in window_counts]
    whole = compute_feature_drift(feature, counts(total), config)
    status = worst_status([whole.status, *(w.status for w in per_window)])
    if status is not whole.status:
        whole = replace(whole, status=status)
    return WindowedDrift(whole, per_window)
