"""Drift histograms: counts per feature over a baseline's bins, merged by addition.

One :class:`DriftAggregate` per deployment, model and hour is folded from PREDICTIONS_DATA
records as they arrive; a period's drift is computed on the merge of its hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.baseline import Baseline, Values
from spoolwatch.monitoring.binning import IntArray
from spoolwatch.monitoring.drift import DriftConfig, DriftReport, compute_drift

__all__ = ["DriftAggregate", "merge_counts"]


def merge_counts(a: IntArray | Sequence[int], b: IntArray | Sequence[int]) -> IntArray:
    """Sum of two count vectors over the same bins; :class:`ConfigError` if they differ or
    a sum leaves the 64-bit range (numpy would wrap it around silently)."""
    left, right = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if left.shape != right.shape:
        raise ConfigError(
            f"cannot merge histograms of {left.size} and {right.size} bins "
            "(counted against different baselines)"
        )
    total = left + right
    if bool(((right > 0) & (total < left)).any() or ((right < 0) & (total > left)).any()):
        raise ConfigError("histogram counts beyond the 64-bit range")
    return total


@dataclass(eq=False)
class DriftAggregate:
    """Counts per feature name (and of the predictions) over one baseline's bins."""

    features: dict[str, IntArray] = field(default_factory=dict)
    target: IntArray | None = None

    def add(
        self,
        baseline: Baseline,
        features: Mapping[str, Values] | None = None,
        predictions: Values | None = None,
        class_names: Sequence[str] | None = None,
    ) -> list[str]:
        """Fold in one record's columns; returns the feature names the baseline lacks.

        Predictions are counted only when the baseline has a target baseline.
        """
        ignored: list[str] = []
        for name, values in (features or {}).items():
            if name not in baseline.features:
                ignored.append(name)
                continue
            counts = baseline.features[name].bin_counts(values)
            previous = self.features.get(name)
            self.features[name] = counts if previous is None else merge_counts(previous, counts)
        if predictions is not None and baseline.target is not None:
            counts = baseline.bin_predictions(predictions, class_names)
            self.target = counts if self.target is None else merge_counts(self.target, counts)
        return ignored

    def merge(self, other: DriftAggregate) -> DriftAggregate:
        """A new aggregate holding both."""
        features = dict(self.features)
        for name, counts in other.features.items():
            features[name] = merge_counts(features[name], counts) if name in features else counts
        target = self.target
        if other.target is not None:
            target = other.target if target is None else merge_counts(target, other.target)
        return DriftAggregate(features, target)

    def __add__(self, other: DriftAggregate) -> DriftAggregate:
        return self.merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DriftAggregate):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def drift(self, baseline: Baseline, config: DriftConfig | None = None) -> DriftReport:
        """The drift report of these counts against ``baseline``."""
        target = self.target if baseline.target is not None else None
        return compute_drift(baseline, self.features, target=target, config=config)

    def to_dict(self) -> dict[str, Any]:
        """``{"features": {name: [count, ...]}, "target": [count, ...] | None}``."""
        return {
            "features": {name: counts.tolist() for name, counts in self.features.items()},
            "target": self.target.tolist() if self.target is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftAggregate:
        """Rebuild from :meth:`to_dict` output; :class:`ConfigError` when malformed."""
        try:
            features = {
                str(name): np.asarray(counts, dtype=np.int64)
                for name, counts in data["features"].items()
            }
            target = data.get("target")
            return cls(features, np.asarray(target, dtype=np.int64) if target is not None else None)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"malformed drift aggregate: {exc!r}") from exc
