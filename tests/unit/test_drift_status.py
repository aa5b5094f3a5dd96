"""Drift statuses on synthetic data, configuration, aggregates and reports."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring import (
    Baseline,
    DriftAggregate,
    DriftConfig,
    DriftStatus,
    DriftThresholds,
    compute_drift,
    drift_between,
    merge_counts,
    worst_status,
)

RNG_SEED = 42


def _normal_columns(n: int, seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(shift, 1.0, n), "y": rng.exponential(1.0, n)}


@pytest.mark.parametrize("metric", ["psi", "jensen_shannon", "wasserstein"])
def test_quarter_sd_mean_shift_on_many_rows_is_flagged_and_the_rest_stays_green(
    metric: str,
) -> None:
    reference = _normal_columns(100_000, 1)
    current = _normal_columns(500_000, 2)
    current["x"] = current["x"] + 0.25
    report = drift_between(reference, current, config=DriftConfig(metric=metric))
    assert report.feature("x").status is DriftStatus.YELLOW
    assert report.feature("y").status is DriftStatus.GREEN
    assert report.status is DriftStatus.YELLOW


def test_large_shift_is_red() -> None:
    reference = _normal_columns(20_000, 1)
    current = _normal_columns(20_000, 2, shift=1.0)
    report = drift_between(reference, current)
    assert report.feature("x").status is DriftStatus.RED
    assert report.status is DriftStatus.RED


def test_category_frequency_change_is_flagged() -> None:
    rng = np.random.default_rng(RNG_SEED)
    names = np.array(["a", "b", "c", "d"], dtype=object)
    reference = {"c": names[rng.choice(4, 50_000, p=[0.4, 0.3, 0.2, 0.1])]}
    current = {"c": names[rng.choice(4, 200_000, p=[0.3, 0.3, 0.25, 0.15])]}
    assert drift_between(reference, current).feature("c").status is DriftStatus.YELLOW


@pytest.mark.parametrize("seed", range(10))
def test_small_undrifted_samples_do_not_raise_false_alarms(seed: int) -> None:
    # 100 rows over 12 bins: PSI by chance alone is about 0.1, above the yellow threshold.
    baseline = Baseline.from_columns(_normal_columns(100_000, 1))
    sample = _normal_columns(100, 1000 + seed)
    drift = compute_drift(baseline, baseline.bin_columns(sample))
    assert drift.status is DriftStatus.GREEN


def test_chance_psi_of_a_small_sample_is_above_the_threshold_yet_green() -> None:
    baseline = Baseline.from_columns(_normal_columns(100_000, 1))
    values = [
        compute_drift(baseline, baseline.bin_columns(_normal_columns(100, s))).feature("x")
        for s in range(20)
    ]
    assert max(d.value or 0 for d in values) > 0.05  # the threshold alone would fire
    assert all(d.status is DriftStatus.GREEN for d in values)


def test_fewer_rows_than_min_rows_is_unknown_and_ignored_by_the_deployment_status() -> None:
    baseline = Baseline.from_columns(_normal_columns(1000, 1))
    counts = {
        "x": baseline.bin_counts("x", np.zeros(10)),
        "y": baseline.bin_counts("y", np.ones(5000) * 50),
    }
    report = compute_drift(baseline, counts)
    assert report.feature("x").status is DriftStatus.UNKNOWN
    assert report.feature("x").value is None
    assert report.feature("y").status is DriftStatus.RED
    assert report.status is DriftStatus.RED


def test_features_without_counts_are_reported_unknown() -> None:
    baseline = Baseline.from_columns(_normal_columns(1000, 1))
    report = compute_drift(baseline, {})
    assert [f.status for f in report.features] == [DriftStatus.UNKNOWN] * 2
    assert report.status is DriftStatus.UNKNOWN


def test_counts_for_another_baseline_are_rejected() -> None:
    baseline = Baseline.from_columns(_normal_columns(1000, 1))
    with pytest.raises(ConfigError, match="another baseline"):
        compute_drift(baseline, {"x": [1, 2, 3]})
    with pytest.raises(ConfigError, match="not in the baseline"):
        compute_drift(baseline, {"z": [1, 2, 3]})


def test_per_feature_thresholds_override_the_defaults() -> None:
    reference = _normal_columns(50_000, 1)
    current = _normal_columns(50_000, 2, shift=0.25)
    config = DriftConfig(feature_thresholds={"x": DriftThresholds(0.01, 0.02)})
    assert drift_between(reference, current, config=config).feature("x").status is DriftStatus.RED


def test_bad_drift_configuration_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown drift metric"):
        DriftConfig(metric="ks")
    with pytest.raises(ConfigError, match="alpha"):
        DriftConfig(alpha=2.0)
    with pytest.raises(ConfigError, match="yellow <= red"):
        DriftThresholds(0.3, 0.1)


def test_no_common_column_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no column in common"):
        drift_between({"a": [1.0]}, {"b": [1.0]})


def test_target_drift_uses_the_prediction_baseline() -> None:
    rng = np.random.default_rng(RNG_SEED)
    baseline = Baseline.from_columns(
        {"x": rng.normal(size=10_000)}, predictions=rng.normal(size=10_000)
    )
    aggregate = DriftAggregate()
    aggregate.add(baseline, {"x": rng.normal(size=5000)}, predictions=rng.normal(2, 1, 5000))
    report = aggregate.drift(baseline)
    assert report.target is not None and report.target.name == "prediction"
    assert report.target.status is DriftStatus.RED
    assert report.feature("x").status is DriftStatus.GREEN
    assert report.status is DriftStatus.RED


def test_drift_aggregates_merge_like_counting_everything_at_once() -> None:
    rng = np.random.default_rng(RNG_SEED)
    baseline = Baseline.from_columns(
        {"x": rng.normal(size=1000), "c": rng.choice(["a", "b"], 1000)},
        predictions=rng.dirichlet([1, 1], 1000),
        class_names=["n", "y"],
    )
    parts = []
    batches = []
    for _ in range(3):
        batch = {"x": rng.normal(size=200), "c": rng.choice(["a", "b", "z"], 200)}
        preds = rng.dirichlet([1, 1], 200)
        part = DriftAggregate()
        ignored = part.add(baseline, {**batch, "extra": [1] * 200}, preds, ["n", "y"])
        assert ignored == ["extra"]
        parts.append(part)
        batches.append((batch, preds))
    a, b, c = parts
    assert (a + b) + c == a + (b + c) == c + (a + b)
    whole = a + b + c
    x_all = np.concatenate([batch["x"] for batch, _ in batches])
    assert whole.features["x"].tolist() == baseline.bin_counts("x", x_all).tolist()
    assert whole.target is not None and whole.target.sum() == 600
    restored = DriftAggregate.from_dict(orjson.loads(orjson.dumps(whole.to_dict())))
    assert restored == whole


def test_counts_of_different_lengths_do_not_merge() -> None:
    with pytest.raises(ConfigError, match="different baselines"):
        merge_counts([1, 2], [1, 2, 3])


def test_report_serialises_to_json() -> None:
    report = drift_between(_normal_columns(2000, 1), _normal_columns(2000, 2, shift=1.0))
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert data["status"] == "red" and data["metric"] == "psi"
    x = next(f for f in data["features"] if f["name"] == "x")
    assert x["status"] == "red" and x["currentRows"] == 2000
    assert len(x["bins"]) == len(x["referenceCounts"]) == len(x["currentCounts"])


def test_worst_status_orders_unknown_green_yellow_red() -> None:
    assert worst_status([]) is DriftStatus.UNKNOWN
    assert worst_status([DriftStatus.GREEN, DriftStatus.UNKNOWN]) is DriftStatus.GREEN
    assert worst_status([DriftStatus.RED, DriftStatus.YELLOW]) is DriftStatus.RED
