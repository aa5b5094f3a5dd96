"""Drift metrics: distances between a baseline's counts and current counts over the same bins.

A metric is a small object with a stable ``name`` plus a calculation (``compute``); every
metric class registers itself in :data:`DRIFT_METRICS` with :func:`register_drift_metric`, and
a test fails when one is not registered.

Default thresholds and why (checked by ``bench/drift.py``: a +0.25 sd mean shift on 1M rows
against 100k baseline rows must turn yellow, undrifted columns must stay green):

* ``psi`` (default): Population Stability Index. A mean shift of d standard deviations of a
  normal feature gives PSI ≈ d², so 0.25 sd ≈ 0.06 (≈ 0.058 over 10 quantile bins). The
  customary 0.1 warning level would miss it, hence **yellow ≥ 0.05, red ≥ 0.25** (0.25 is
  the customary "significant shift" level, a shift of about half a standard deviation).
* ``jensen_shannon``: Jensen-Shannon distance, base 2 (0..1). For small shifts the
  divergence is ≈ PSI / (8 ln 2), so PSI 0.05 ↔ 0.085 and PSI 0.25 ↔ 0.19:
  **yellow ≥ 0.085, red ≥ 0.19**.
* ``wasserstein``: earth mover's distance between the binned distributions divided by the
  baseline standard deviation, i.e. in baseline standard deviations (a mean shift of d sd
  gives ≈ d): **yellow ≥ 0.1, red ≥ 0.5** (categorical: total variation, yellow ≥ 0.05,
  red ≥ 0.2). See :class:`Wasserstein` for the details and
  for categorical features.

Small samples are handled in :mod:`spoolwatch.monitoring.drift`, not by the thresholds.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.baseline import FeatureBaseline
from spoolwatch.monitoring.binning import FeatureKind, IntArray, bin_centres

__all__ = [
    "DRIFT_METRICS",
    "DriftMetric",
    "DriftThresholds",
    "JensenShannon",
    "PopulationStabilityIndex",
    "Wasserstein",
    "drift_metric",
    "register_drift_metric",
]

# Additive smoothing of PSI's proportions: keeps ln(q/p) finite for a bin empty on one side.
PSI_SMOOTHING = 0.5


@dataclass(frozen=True)
class DriftThresholds:
    """A metric value ≥ ``yellow`` is a warning, ≥ ``red`` is drift."""

    yellow: float
    red: float

    def __post_init__(self) -> None:
        if not (0 <= self.yellow <= self.red) or math.isnan(self.red):
            raise ConfigError(
                f"drift thresholds need 0 <= yellow <= red, got {self.yellow}, {self.red}"
            )

    def to_dict(self) -> dict[str, float]:
        """``{"yellow": ..., "red": ...}``."""
        return {"yellow": self.yellow, "red": self.red}


class DriftMetric(ABC):
    """A distance between two count vectors aligned to one feature's baseline bins."""

    name: ClassVar[str]
    label: ClassVar[str]
    default_thresholds: ClassVar[DriftThresholds]
    #: Thresholds for categorical features when their scale differs (None: the defaults).
    categorical_thresholds: ClassVar[DriftThresholds | None] = None

    def thresholds(self, kind: FeatureKind) -> DriftThresholds:
        """The default thresholds for a feature of this kind."""
        if kind is FeatureKind.CATEGORICAL and self.categorical_thresholds is not None:
            return self.categorical_thresholds
        return self.default_thresholds

    @abstractmethod
    def compute(self, reference: IntArray, current: IntArray, feature: FeatureBaseline) -> float:
        """The distance; NaN when either side has no rows."""


DRIFT_METRICS: dict[str, DriftMetric] = {}


def register_drift_metric(cls: type[DriftMetric]) -> type[DriftMetric]:
    """Class decorator: make a metric available by its ``name``."""
    if cls.name in DRIFT_METRICS:
        raise ConfigError(f"drift metric {cls.name!r} is registered twice")
    DRIFT_METRICS[cls.name] = cls()
    return cls


def drift_metric(name: str) -> DriftMetric:
    """The registered metric called ``name``; :class:`ConfigError` listing the known ones."""
    try:
        return DRIFT_METRICS[name]
    except KeyError:
        known = ", ".join(sorted(DRIFT_METRICS))
        raise ConfigError(f"unknown drift metric {name!r} (known: {known})") from None


def _proportions(counts: IntArray) -> np.ndarray | None:
    total = counts.sum()
    return counts / total if total > 0 else None


@register_drift_metric
class PopulationStabilityIndex(DriftMetric):
    """PSI = Σ (q - p) · ln(q / p) over bins, p baseline and q current proportions.

    Bins empty on both sides are dropped; the others are smoothed by adding 0.5 to every
    count, so a bin empty on one side gives a large but finite contribution.
    """

    name = "psi"
    label = "PSI"
    default_thresholds = DriftThresholds(0.05, 0.25)

    def compute(self, reference: IntArray, current: IntArray, feature: FeatureBaseline) -> float:
        """PSI of ``current`` against ``reference``."""
        if reference.sum() == 0 or current.sum() == 0:
            return math.nan
        keep = (reference + current) > 0
        r = reference[keep] + PSI_SMOOTHING
        c = current[keep] + PSI_SMOOTHING
        p, q = r / r.sum(), c / c.sum()
        return float(np.sum((q - p) * np.log(q / p)))


@register_drift_metric
class JensenShannon(DriftMetric):
    """Jensen-Shannon distance in base 2: √JSD, between 0 (same) and 1 (disjoint)."""

    name = "jensen_shannon"
    label = "Jensen-Shannon"
    default_thresholds = DriftThresholds(0.085, 0.19)

    def compute(self, reference: IntArray, current: IntArray, feature: FeatureBaseline) -> float:
        """Jensen-Shannon distance of the two distributions."""
        p, q = _proportions(reference), _proportions(current)
        if p is None or q is None:
            return math.nan
        m = (p + q) / 2
        divergence = 0.5 * _kl_bits(p, m) + 0.5 * _kl_bits(q, m)
        return math.sqrt(max(divergence, 0.0))


def _kl_bits(p: np.ndarray, m: np.ndarray) -> float:
    nz = p > 0
    return float(np.sum(p[nz] * np.log2(p[nz] / m[nz])))


@register_drift_metric
class Wasserstein(DriftMetric):
    """Normalised Wasserstein-1 (earth mover's) distance between the binned distributions.

    Numeric: each value bin sits at its baseline centre (the mean training value in it, see
    :class:`FeatureBaseline`; quantile bins are wide in the tails, where midpoints would
    overstate the distance by a third or more) and W1 = Σ |CDF_p - CDF_q| · Δposition over
    the non-missing values (each side renormalised), divided by the baseline standard
    deviation (by its range when that is zero, by 1 when both are). The difference in
    missing-value rate is added, so a feature that starts to go missing drifts too. The
    result is in baseline standard deviations.

    Categorical: categories have no order, so W1 under the 0/1 distance is used, which is
    the total variation distance ½ Σ |p - q| over all bins (missing and other included).
    Its own thresholds apply (yellow ≥ 0.05, red ≥ 0.2): a mean shift of 0.125 sd of a
    normal feature has a total variation of 0.05, so the two scales agree for small shifts.
    """

    name = "wasserstein"
    label = "Wasserstein (normalised)"
    default_thresholds = DriftThresholds(0.1, 0.5)
    categorical_thresholds = DriftThresholds(0.05, 0.2)

    def compute(self, reference: IntArray, current: IntArray, feature: FeatureBaseline) -> float:
        """Normalised W1 of ``current`` against ``reference``."""
        p, q = _proportions(reference), _proportions(current)
        if p is None or q is None:
            return math.nan
        if feature.kind is FeatureKind.CATEGORICAL:
            return float(0.5 * np.abs(p - q).sum())
        missing_gap = abs(float(p[-1] - q[-1]))
        vp, vq = reference[:-1], current[:-1]
        if feature.edges.size == 0 or vp.sum() == 0 or vq.sum() == 0:
            return missing_gap
        cdf_gap = np.abs(np.cumsum(vp / vp.sum()) - np.cumsum(vq / vq.sum()))[:-1]
        positions = _bin_positions(feature)
        w1 = float(np.sum(cdf_gap * np.diff(positions)))
        return w1 / _spread(feature) + missing_gap


def _bin_positions(feature: FeatureBaseline) -> np.ndarray:
    if feature.centres.size == feature.edges.size + 1:
        return feature.centres
    return bin_centres(feature.edges, np.zeros(0, dtype=np.float64))


def _spread(feature: FeatureBaseline) -> float:
    if math.isfinite(feature.std) and feature.std > 0:
        return feature.std
    width = float(feature.edges[-1] - feature.edges[0]) if feature.edges.size else 0.0
    return width if width > 0 else 1.0
