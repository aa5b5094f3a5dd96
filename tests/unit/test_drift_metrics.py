"""Drift metrics against hand-computed values, and the metric registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring import (
    DRIFT_METRICS,
    DriftMetric,
    FeatureBaseline,
    FeatureKind,
    drift_metric,
    homogeneity_p_value,
)
from spoolwatch.monitoring.drift import poisson_upper_tail
from spoolwatch.monitoring.metrics import PSI_SMOOTHING


def _categorical(reference: np.ndarray) -> FeatureBaseline:
    names = tuple(f"c{i}" for i in range(reference.size - 2))
    return FeatureBaseline("c", FeatureKind.CATEGORICAL, reference, categories=names)


def _kl_bits(p: list[float], q: list[float]) -> float:
    return sum(a * math.log2(a / b) for a, b in zip(p, q, strict=True) if a > 0)


def _w1(positions: list[float], p: list[float], q: list[float]) -> float:
    """Integral of |F - G| between two discrete distributions, by walking the positions."""
    total, cdf_p, cdf_q = 0.0, 0.0, 0.0
    for i in range(len(positions) - 1):
        cdf_p += p[i]
        cdf_q += q[i]
        total += abs(cdf_p - cdf_q) * (positions[i + 1] - positions[i])
    return total


def test_every_drift_metric_class_is_registered() -> None:
    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        for sub in list(found):
            found |= subclasses(sub)
        return found

    registered = {type(metric) for metric in DRIFT_METRICS.values()}
    assert subclasses(DriftMetric) <= registered
    assert set(DRIFT_METRICS) == {"psi", "jensen_shannon", "wasserstein"}
    for name, metric in DRIFT_METRICS.items():
        assert metric.name == name


def test_unknown_metric_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="psi"):
        drift_metric("kolmogorov")


def test_psi_matches_the_formula_with_smoothing() -> None:
    reference = np.array([50, 30, 20, 0, 0])
    current = np.array([30, 30, 30, 10, 0])
    feature = _categorical(reference)
    kept_r = np.array([50, 30, 20, 0]) + PSI_SMOOTHING
    kept_c = np.array([30, 30, 30, 10]) + PSI_SMOOTHING
    p, q = kept_r / kept_r.sum(), kept_c / kept_c.sum()
    expected = sum((qi - pi) * math.log(qi / pi) for pi, qi in zip(p, q, strict=True))
    assert drift_metric("psi").compute(reference, current, feature) == pytest.approx(expected)


def test_psi_of_identical_distributions_is_zero() -> None:
    counts = np.array([1000, 2000, 3000, 0, 500])
    feature = _categorical(counts)
    assert drift_metric("psi").compute(counts, counts * 3, feature) == pytest.approx(0, abs=1e-6)


def test_jensen_shannon_matches_the_definition() -> None:
    reference = np.array([40, 30, 20, 10, 0])
    current = np.array([10, 20, 30, 35, 5])
    feature = _categorical(reference)
    p, q = (reference / reference.sum()).tolist(), (current / current.sum()).tolist()
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    expected = math.sqrt((_kl_bits(p, m) + _kl_bits(q, m)) / 2)
    assert drift_metric("jensen_shannon").compute(reference, current, feature) == pytest.approx(
        expected
    )


def test_jensen_shannon_of_disjoint_distributions_is_one() -> None:
    reference = np.array([10, 0, 0, 0])
    current = np.array([0, 10, 0, 0])
    feature = _categorical(reference)
    assert drift_metric("jensen_shannon").compute(reference, current, feature) == pytest.approx(1)


def test_wasserstein_is_w1_over_bin_centres_divided_by_the_baseline_sd() -> None:
    rng = np.random.default_rng(3)
    training = rng.normal(10.0, 2.0, 20_000)
    feature = FeatureBaseline.from_values("x", training, n_bins=10)
    current = feature.bin_counts(rng.normal(10.5, 2.0, 20_000))
    p = (feature.counts[:-1] / feature.counts[:-1].sum()).tolist()
    q = (current[:-1] / current[:-1].sum()).tolist()
    expected = _w1(feature.centres.tolist(), p, q) / feature.std
    got = drift_metric("wasserstein").compute(feature.counts, current, feature)
    assert got == pytest.approx(expected)
    assert got == pytest.approx(0.25, abs=0.03)  # a 0.25 sd shift reads as about 0.25


def test_wasserstein_adds_the_change_in_missing_rate() -> None:
    training = np.arange(1000, dtype=float)
    feature = FeatureBaseline.from_values("x", training)
    current = feature.bin_counts(np.concatenate([training, np.full(1000, np.nan)]))
    assert drift_metric("wasserstein").compute(feature.counts, current, feature) == pytest.approx(
        0.5
    )


def test_wasserstein_on_categories_is_the_total_variation_distance() -> None:
    reference = np.array([40, 30, 20, 10, 0])
    current = np.array([30, 30, 25, 10, 5])
    feature = _categorical(reference)
    assert drift_metric("wasserstein").compute(reference, current, feature) == pytest.approx(0.1)


def test_metrics_are_nan_without_current_rows() -> None:
    reference = np.array([4, 3, 0, 0])
    feature = _categorical(reference)
    for metric in DRIFT_METRICS.values():
        assert math.isnan(metric.compute(reference, np.zeros(4, dtype=np.int64), feature))


def _chi2_sf_even_dof(x: float, dof: int) -> float:
    """Exact chi-square tail for an even number of degrees of freedom."""
    half = x / 2
    return math.exp(-half) * sum(half**i / math.factorial(i) for i in range(dof // 2))


def _pearson(reference: np.ndarray, current: np.ndarray) -> float:
    total = reference.sum() + current.sum()
    statistic = 0.0
    for r, c in zip(reference.tolist(), current.tolist(), strict=True):
        pooled = (r + c) / total
        er, ec = pooled * reference.sum(), pooled * current.sum()
        statistic += (r - er) ** 2 / er + (c - ec) ** 2 / ec
    return statistic


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.02, 0.05])
def test_homogeneity_p_value_is_close_to_the_exact_chi2_tail(shift: float) -> None:
    reference = np.array([2000, 3000, 2500, 1500, 1000])
    probs = reference / reference.sum() + np.array([shift, -shift, 0, 0, 0])
    current = np.round(probs * 5000).astype(np.int64)
    expected = _chi2_sf_even_dof(_pearson(reference, current), dof=4)
    got = homogeneity_p_value(reference, current)
    if expected > 1e-6:
        assert got == pytest.approx(expected, rel=0.1, abs=1e-4)
    else:
        assert got < 1e-5


def test_homogeneity_p_value_ignores_bins_empty_on_both_sides() -> None:
    reference = np.array([100, 0, 200, 0])
    assert homogeneity_p_value(reference, reference * 2) == pytest.approx(1.0)
    assert math.isnan(homogeneity_p_value(reference, np.zeros(4, dtype=np.int64)))


def test_one_row_in_an_empty_bin_is_not_significant() -> None:
    # 300 rows like the baseline, one of them beyond its maximum (the "above" bin).
    reference = np.array([0, 25_000, 25_000, 25_000, 25_000, 0, 0])
    current = np.array([0, 75, 75, 75, 74, 1, 0])
    # Such a row turns up in about 0.3 % of samples, and the p-value says so (the plain
    # chi-square approximation would say 1e-70), so it stays above the default alpha.
    assert 1e-3 < homogeneity_p_value(reference, current) < 0.05


def test_a_new_category_in_a_small_sample_is_significant() -> None:
    reference = np.array([33_000, 33_000, 34_000, 0, 0])
    current = np.array([300, 300, 300, 100, 0])  # 10 % unseen
    assert homogeneity_p_value(reference, current) < 1e-6


def test_poisson_upper_tail_matches_the_series() -> None:
    mean = 0.7
    pmf = [math.exp(-mean) * mean**i / math.factorial(i) for i in range(40)]
    assert poisson_upper_tail(3, mean) == pytest.approx(1 - sum(pmf[:3]))
    assert poisson_upper_tail(0, mean) == 1.0
    assert poisson_upper_tail(25, mean) == pytest.approx(sum(pmf[25:]), rel=1e-9)
