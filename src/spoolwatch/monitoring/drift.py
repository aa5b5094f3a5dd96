"""Feature and target drift: a status per feature and per deployment from binned counts.

A feature's status comes from two questions, both of which must say "yes" for a warning:

1. *Is the change big enough to matter?* The metric (PSI by default, see
   :mod:`spoolwatch.monitoring.metrics`) reaches the yellow or red threshold.
2. *Is it more than sampling noise?* Pearson's chi-square test of homogeneity on the two
   count vectors gives a p-value below ``alpha`` (default 0.001); bins too sparse for the
   chi-square approximation get an exact Poisson tail (see :func:`homogeneity_p_value`).

The thresholds alone would raise false alarms on small samples: with k bins and n current
rows, PSI of an undrifted feature is about (k - 1)/n by chance (0.1 for 12 bins and 100
rows). The test alone would flag negligible changes on large samples. Together they flag a
+0.25 sd shift on a million rows and stay green for undrifted columns at any size. With
fewer than ``min_rows`` current rows (default 30) the status is ``unknown``.

The deployment status is the worst status of its features and its target (unknown ones are
ignored unless everything is unknown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.baseline import (
    DEFAULT_MAX_CATEGORIES,
    DEFAULT_NUMERIC_BINS,
    Baseline,
    FeatureBaseline,
    Values,
)
from spoolwatch.monitoring.binning import FeatureKind, IntArray
from spoolwatch.monitoring.metrics import DriftThresholds, drift_metric
from spoolwatch.monitoring.status import DriftStatus, worst_status

# Smallest expected count per bin for the chi-square test; sparser bins are pooled.
_MIN_EXPECTED = 5.0

__all__ = [
    "DriftConfig",
    "DriftReport",
    "FeatureDrift",
    "chi2_survival",
    "compute_drift",
    "compute_feature_drift",
    "drift_between",
    "homogeneity_p_value",
    "poisson_upper_tail",
]


@dataclass(frozen=True, kw_only=True)
class DriftConfig:
    """How drift is judged: metric, thresholds, significance level, minimum rows.

    ``thresholds`` replaces the metric's defaults for every feature; ``feature_thresholds``
    replaces them for named features (the target is named ``"prediction"``).
    """

    metric: str = "psi"
    thresholds: DriftThresholds | None = None
    feature_thresholds: Mapping[str, DriftThresholds] = field(default_factory=dict)
    alpha: float = 1e-3
    min_rows: int = 30

    def __post_init__(self) -> None:
        drift_metric(self.metric)
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.min_rows < 1:
            raise ConfigError(f"min_rows must be at least 1, got {self.min_rows}")

    def thresholds_for(self, name: str, kind: FeatureKind = FeatureKind.NUMERIC) -> DriftThresholds:
        """The thresholds that apply to the feature ``name`` of the given kind."""
        if name in self.feature_thresholds:
            return self.feature_thresholds[name]
        return self.thresholds or drift_metric(self.metric).thresholds(kind)


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature (or of the predictions, named ``"prediction"``)."""

    name: str
    kind: FeatureKind
    metric: str
    value: float | None
    status: DriftStatus
    p_value: float | None
    thresholds: DriftThresholds
    reference_rows: int
    current_rows: int
    missing_rate_reference: float | None
    missing_rate_current: float | None
    bin_labels: list[str]
    reference_counts: list[int]
    current_counts: list[int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form with camelCase keys."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "metric": self.metric,
            "value": self.value,
            "status": self.status.value,
            "pValue": self.p_value,
            "thresholds": self.thresholds.to_dict(),
            "referenceRows": self.reference_rows,
            "currentRows": self.current_rows,
            "missingRateReference": self.missing_rate_reference,
            "missingRateCurrent": self.missing_rate_current,
            "bins": self.bin_labels,
            "referenceCounts": self.reference_counts,
            "currentCounts": self.current_counts,
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of every feature and of the target, and the deployment's overall status."""

    metric: str
    status: DriftStatus
    features: list[FeatureDrift]
    target: FeatureDrift | None = None

    def feature(self, name: str) -> FeatureDrift:
        """The drift of the feature ``name``; :class:`ConfigError` when absent."""
        for drift in self.features:
            if drift.name == name:
                return drift
        raise ConfigError(f"feature {name!r} is not in the drift report")

    def to_dict(self) -> dict[str, Any]:
        """``{"metric", "status", "features": [FeatureDrift.to_dict()...], "target"}``."""
        return {
            "metric": self.metric,
            "status": self.status.value,
            "features": [f.to_dict() for f in self.features],
            "target": self.target.to_dict() if self.target is not None else None,
        }


def homogeneity_p_value(reference: IntArray, current: IntArray) -> float:
    """P-value of the hypothesis that both count vectors come from one distribution.

    Pearson's chi-square test of homogeneity on the bins where the smaller sample expects at
    least 5 rows (the chi-square approximation needs that: without it one row in a rare
    category of a 30-row sample, or one value beyond the baseline maximum, looks like
    p = 1e-70). The sparse bins are pooled and tested on their own with the exact Poisson
    tail of the smaller sample's count, which keeps the power to see a new category or new
    missing values. The two p-values are combined with Bonferroni's correction. The
    chi-square tail uses the Wilson-Hilferty approximation (a few percent of the p-value in
    the range that matters; no scipy).
    """
    r_total, c_total = int(reference.sum()), int(current.sum())
    if r_total == 0 or c_total == 0:
        return math.nan
    keep = (reference + current) > 0
    r = reference[keep].astype(np.float64)
    c = current[keep].astype(np.float64)
    pooled = (r + c) / (r_total + c_total)
    smaller, counts = (r_total, r) if r_total <= c_total else (c_total, c)
    sparse = pooled * smaller < _MIN_EXPECTED
    p_dense = _pearson_p_value(r[~sparse], c[~sparse])
    if not sparse.any():
        return p_dense
    p_sparse = poisson_upper_tail(int(counts[sparse].sum()), float(pooled[sparse].sum() * smaller))
    return min(1.0, 2.0 * min(p_dense, p_sparse))


def _pearson_p_value(r: np.ndarray, c: np.ndarray) -> float:
    dof = r.size - 1
    if dof < 1:
        return 1.0
    r_total, c_total = r.sum(), c.sum()
    pooled = (r + c) / (r_total + c_total)
    expected_r, expected_c = pooled * r_total, pooled * c_total
    statistic = float(
        np.sum((r - expected_r) ** 2 / expected_r + (c - expected_c) ** 2 / expected_c)
    )
    return chi2_survival(statistic, dof)


def poisson_upper_tail(observed: int, mean: float) -> float:
    """P(X >= observed) for X ~ Poisson(mean), summed term by term (mean is small here)."""
    if observed <= mean:
        return 1.0
    total = 0.0
    for i in range(observed, observed + 200):
        term = math.exp(-mean + i * math.log(mean) - math.lgamma(i + 1)) if mean > 0 else 0.0
        total += term
        if term < total * 1e-12:
            break
    return min(1.0, total)


def chi2_survival(statistic: float, dof: int) -> float:
    """P(χ²_dof ≥ statistic) by the Wilson-Hilferty cube-root normal approximation."""
    if statistic <= 0:
        return 1.0
    scale = 2.0 / (9.0 * dof)
    z = ((statistic / dof) ** (1.0 / 3.0) - (1.0 - scale)) / math.sqrt(scale)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def compute_feature_drift(
    feature: FeatureBaseline,
    current: IntArray | Sequence[int],
    config: DriftConfig | None = None,
) -> FeatureDrift:
    """Drift of one feature from its current counts (aligned to ``feature``'s bins)."""
    config = config or DriftConfig()
    counts = np.asarray(current, dtype=np.int64)
    if counts.shape != (feature.n_bins,):
        raise ConfigError(
            f"feature {feature.name!r}: {counts.size} current counts for {feature.n_bins} bins; "
            "were they counted against another baseline?"
        )
    reference = feature.counts
    thresholds = config.thresholds_for(feature.name, feature.kind)
    r_rows, c_rows = int(reference.sum()), int(counts.sum())
    value: float | None = None
    p_value: float | None = None
    status = DriftStatus.UNKNOWN
    if c_rows >= config.min_rows and r_rows > 0:
        value = drift_metric(config.metric).compute(reference, counts, feature)
        p_value = homogeneity_p_value(reference, counts)
        status = _status(value, p_value, thresholds, config.alpha)
    return FeatureDrift(
        name=feature.name,
        kind=feature.kind,
        metric=config.metric,
        value=value,
        status=status,
        p_value=p_value,
        thresholds=thresholds,
        reference_rows=r_rows,
        current_rows=c_rows,
        missing_rate_reference=float(reference[-1] / r_rows) if r_rows else None,
        missing_rate_current=float(counts[-1] / c_rows) if c_rows else None,
        bin_labels=feature.bin_labels(),
        reference_counts=reference.tolist(),
        current_counts=counts.tolist(),
    )


def _status(value: float, p_value: float, thresholds: DriftThresholds, alpha: float) -> DriftStatus:
    if math.isnan(value):
        return DriftStatus.UNKNOWN
    if value < thresholds.yellow or not p_value < alpha:
        return DriftStatus.GREEN
    return DriftStatus.RED if value >= thresholds.red else DriftStatus.YELLOW


def compute_drift(
    baseline: Baseline,
    current: Mapping[str, IntArray | Sequence[int]],
    *,
    target: IntArray | Sequence[int] | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Drift of every baseline feature from current counts per feature name.

    Features without current counts are reported with zero rows (status ``unknown``);
    counts for names the baseline does not know raise :class:`ConfigError`.
    """
    config = config or DriftConfig()
    unknown = sorted(set(current) - set(baseline.features))
    if unknown:
        raise ConfigError(f"counts given for features that are not in the baseline: {unknown}")
    features = [
        compute_feature_drift(
            feature, current.get(name, np.zeros(feature.n_bins, np.int64)), config
        )
        for name, feature in baseline.features.items()
    ]
    target_drift = None
    if target is not None:
        if baseline.target is None:
            raise ConfigError("target counts given but the baseline has no predictions")
        target_drift = compute_feature_drift(baseline.target, target, config)
    everything = features + ([target_drift] if target_drift is not None else [])
    return DriftReport(
        config.metric, worst_status(d.status for d in everything), features, target_drift
    )


def drift_between(
    reference: Mapping[str, Values],
    current: Mapping[str, Values],
    *,
    kinds: Mapping[str, FeatureKind | str] | None = None,
    n_bins: int = DEFAULT_NUMERIC_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Drift of the columns two data sets share: baseline from ``reference``, then binning.

    This is what ``spoolwatch drift`` computes. :class:`ConfigError` when no column is common.
    """
    common = [name for name in reference if name in current]
    if not common:
        raise ConfigError("the reference and current data have no column in common")
    baseline = Baseline.from_columns(
        {name: reference[name] for name in common},
        kinds={k: v for k, v in (kinds or {}).items() if k in common},
        n_bins=n_bins,
        max_categories=max_categories,
    )
    counts = baseline.bin_columns({name: current[name] for name in common})
    return compute_drift(baseline, counts, config=config)
