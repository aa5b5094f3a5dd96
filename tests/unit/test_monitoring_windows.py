"""Target counts from class probabilities, and drift judged over a period and its hours."""

from __future__ import annotations

import numpy as np
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.baseline import FeatureBaseline
from spoolwatch.monitoring.drift import DriftConfig, compute_feature_drift
from spoolwatch.monitoring.prediction import class_counts_from_mass
from spoolwatch.monitoring.status import DriftStatus
from spoolwatch.monitoring.windows import drift_over_windows, pool_newest_first


def test_class_counts_add_up_to_the_rows_and_follow_the_probability_sums() -> None:
    rng = np.random.default_rng(0)
    assert class_counts_from_mass([70.0, 30.0], 100, rng).tolist() == [70, 30]
    counts = class_counts_from_mass([29.4, 50.3, 20.3], 100, rng)
    assert counts.sum() == 100
    assert np.all(np.abs(counts - np.array([29.4, 50.3, 20.3])) < 2)
    # probabilities that do not add up to 1 per row are rescaled to the row count
    assert class_counts_from_mass([1.0, 1.0], 4, rng).tolist() == [2, 2]
    assert class_counts_from_mass([0.0, 0.0], 3, rng).tolist() == [0, 0]
    with pytest.raises(ConfigError):
        class_counts_from_mass([-1.0, 2.0], 1, rng)


def test_one_row_predictions_are_counted_without_bias_unlike_argmax() -> None:
    # A calibrated model saying 0.3 for rows of which 30 % are positive: argmax counts 0 %.
    rng = np.random.default_rng(1)
    total = sum(class_counts_from_mass([0.7, 0.3], 1, rng) for _ in range(5000))
    assert total[1] / 5000 == pytest.approx(0.3, abs=0.02)


def _labels(share_yes: float, n: int, rng: np.random.Generator) -> list[str]:
    return np.where(rng.random(n) < share_yes, "yes", "no").tolist()


def _target() -> FeatureBaseline:
    rng = np.random.default_rng(2)
    return FeatureBaseline.from_values("prediction", _labels(0.3, 5000, rng), kind="categorical")


def test_a_few_drifted_hours_make_the_day_red_while_its_mixed_score_stays_low() -> None:
    target = _target()
    rng = np.random.default_rng(3)
    hours = [target.bin_counts(_labels(0.3, 500, rng)) for _ in range(21)]
    hours += [target.bin_counts(_labels(0.6, 200, rng)) for _ in range(3)]
    total = np.sum(hours, axis=0)
    whole_only = compute_feature_drift(target, total)
    windowed = drift_over_windows(target, total, hours)
    assert whole_only.status is DriftStatus.GREEN and whole_only.value < 0.05  # type: ignore[operator]
    assert windowed.drift.status is DriftStatus.RED
    assert windowed.drift.value == pytest.approx(whole_only.value)
    assert windowed.drifting_windows == 3
    assert windowed.peak is not None and windowed.peak > 0.25
    assert [w.status for w in windowed.windows[-3:]] == [DriftStatus.RED] * 3


def test_undrifted_small_hours_raise_no_alarm() -> None:
    target = _target()
    rng = np.random.default_rng(4)
    alarms = 0
    for _day in range(30):
        hours = [target.bin_counts(_labels(0.3, int(n), rng)) for n in rng.integers(0, 120, 24)]
        windowed = drift_over_windows(target, np.sum(hours, axis=0), hours)
        alarms += windowed.drift.status is not DriftStatus.GREEN
        assert windowed.peak is None or windowed.drifting_windows > 0
    assert alarms == 0


def test_empty_windows_and_period_are_unknown() -> None:
    target = _target()
    windowed = drift_over_windows(target, None, [None, None])
    assert windowed.drift.status is DriftStatus.UNKNOWN and windowed.peak is None
    assert [w.status for w in windowed.windows] == [DriftStatus.UNKNOWN] * 2


def test_windows_are_pooled_newest_first_until_they_have_enough_rows() -> None:
    assert pool_newest_first([50, 50, 50, 50, 50], 100) == [[0], [1, 2], [3, 4]]
    assert pool_newest_first([500, 10, 200], 100) == [[0, 1], [2]]
    assert pool_newest_first([0, 0], 30) == [[0, 1]]
    assert pool_newest_first([], 30) == []


def test_sparse_hours_are_judged_pooled() -> None:
    # 20 rows an hour: no hour alone reaches 30 rows, but pairs do; the last 6 hours drifted.
    target = _target()
    rng = np.random.default_rng(5)
    hours = [target.bin_counts(_labels(0.3, 20, rng)) for _ in range(18)]
    hours += [target.bin_counts(_labels(0.9, 20, rng)) for _ in range(6)]
    windowed = drift_over_windows(target, np.sum(hours, axis=0), hours)
    assert all(compute_feature_drift(target, h).status is DriftStatus.UNKNOWN for h in hours)
    assert windowed.drift.status is DriftStatus.RED
    assert [w.status for w in windowed.windows[-6:]] == [DriftStatus.RED] * 6
    assert windowed.windows[-1] is windowed.windows[-2]  # one pool, one judgement


def test_recent_hours_too_weak_one_pool_at_a_time_show_drift_together() -> None:
    # 40 rows an hour; the last 5 hours moved from 30 % to 50 % "yes": no hour alone is
    # significant at the corrected level, the last hours together are.
    target = _target()
    steady = target.bin_counts(["yes"] * 12 + ["no"] * 28)
    moved = target.bin_counts(["yes"] * 20 + ["no"] * 20)
    hours = [steady] * 19 + [moved] * 5
    windowed = drift_over_windows(target, np.sum(hours, axis=0), hours)
    pools = pool_newest_first([40] * 24, 30)
    alone = compute_feature_drift(
        target, moved, DriftConfig(alpha=DriftConfig().alpha / (2 * len(pools) - 2))
    )
    assert alone.status is DriftStatus.GREEN
    assert windowed.drift.status is DriftStatus.YELLOW
    drifting = [w.status is DriftStatus.YELLOW for w in windowed.windows]
    # the shortest recent span that is significant: some of the moved hours, none before
    first = drifting.index(True)
    assert first >= 19 and all(drifting[first:])
    assert windowed.drifting_windows == 24 - first and windowed.peak is not None
