"""The demo's example model: a loan-default classifier over synthetic data.

Eight numeric and three categorical features; the label comes from a known logistic
function of them, and the "model" is that same function, so before drift its accuracy is
what the noise allows. Part-way through the demo the traffic drifts: incomes fall, debt
ratios rise and more applications come through the partner channel, and the relationship
between the features and default weakens (an unobserved factor takes over), so both feature
drift and a drop in accuracy show up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "CATEGORICAL_FEATURES",
    "CLASS_NAMES",
    "DRIFTED_FEATURES",
    "NUMERIC_FEATURES",
    "Batch",
    "ExampleModel",
]

FloatArray = npt.NDArray[np.float64]

NUMERIC_FEATURES = (
    "age",
    "income",
    "credit_score",
    "loan_amount",
    "debt_ratio",
    "tenure_months",
    "num_accounts",
    "late_payments",
)
CATEGORICAL_FEATURES = ("region", "channel", "product")
CLASS_NAMES = ("repaid", "default")
#: The features whose distribution the drifted traffic shifts.
DRIFTED_FEATURES = ("income", "debt_ratio", "channel")

_REGIONS = ("north", "south", "east", "west")
_CHANNELS = ("web", "branch", "partner")
_PRODUCTS = ("standard", "premium", "gold")
_CHANNEL_P = (0.55, 0.35, 0.10)
_CHANNEL_P_DRIFT = (0.30, 0.20, 0.50)


@dataclass(frozen=True)
class Batch:
    """One batch of scoring traffic: feature columns, labels drawn from the truth."""

    features: dict[str, list[float] | list[str]]
    labels: list[str]

    @property
    def rows(self) -> int:
        """Number of rows in the batch."""
        return len(self.labels)


class ExampleModel:
    """Generates training and scoring data and scores it with a known logistic model."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = np.random.default_rng(seed)

    def training_data(self, rows: int) -> Batch:
        """Training data: undrifted features and their labels."""
        return self.batch(rows, drift=0.0)

    def batch(self, rows: int, *, drift: float) -> Batch:
        """``rows`` rows of traffic; ``drift`` in [0, 1] is how far the shift has gone."""
        columns = self._numeric(rows, drift)
        p = np.array(_CHANNEL_P) * (1 - drift) + np.array(_CHANNEL_P_DRIFT) * drift
        channel = self._rng.choice(_CHANNELS, size=rows, p=p / p.sum())
        region = self._rng.choice(_REGIONS, size=rows, p=(0.3, 0.3, 0.2, 0.2))
        product = self._rng.choice(_PRODUCTS, size=rows, p=(0.6, 0.3, 0.1))
        truth = _true_default_probability(columns, channel)
        if drift > 0:
            # An unobserved factor: the model cannot see it, so its accuracy falls.
            z = np.log(truth / (1.0 - truth)) + self._rng.normal(0.0, 3.5 * drift, rows)
            truth = 1.0 / (1.0 + np.exp(-z))
        labels = np.where(self._rng.random(rows) < truth, CLASS_NAMES[1], CLASS_NAMES[0])
        features: dict[str, list[float] | list[str]] = {
            name: np.round(values, 3).tolist() for name, values in columns.items()
        }
        features["region"] = region.tolist()
        features["channel"] = channel.tolist()
        features["product"] = product.tolist()
        return Batch(features=features, labels=labels.tolist())

    def predict(self, features: dict[str, list[float] | list[str]]) -> list[list[float]]:
        """Class probabilities ``[P(repaid), P(default)]`` per row (the pre-drift truth)."""
        columns = {name: np.asarray(features[name], dtype=np.float64) for name in NUMERIC_FEATURES}
        channel = np.asarray(features["channel"])
        p_default = _true_default_probability(columns, channel)
        return [[round(1.0 - p, 6), round(p, 6)] for p in p_default.tolist()]

    def _numeric(self, rows: int, drift: float) -> dict[str, FloatArray]:
        rng = self._rng
        income = rng.lognormal(mean=np.log(52_000), sigma=0.35, size=rows) * (1 - 0.25 * drift)
        debt_ratio = np.clip(rng.beta(2.0, 5.0, size=rows) + 0.15 * drift, 0.0, 1.5)
        return {
            "age": np.clip(rng.normal(41, 11, rows), 18, 90),
            "income": income,
            "credit_score": np.clip(rng.normal(680, 55, rows), 300, 850),
            "loan_amount": rng.gamma(shape=2.0, scale=7_500, size=rows),
            "debt_ratio": debt_ratio,
            "tenure_months": rng.exponential(40, rows),
            "num_accounts": rng.poisson(4, rows).astype(np.float64),
            "late_payments": rng.poisson(0.6, rows).astype(np.float64),
        }


def _true_default_probability(
    columns: dict[str, FloatArray], channel: npt.NDArray[np.str_]
) -> FloatArray:
    z = (
        -1.2
        - 0.9 * (np.log(columns["income"]) - np.log(52_000)) / 0.35
        - 0.012 * (columns["credit_score"] - 680)
        + 0.00002 * (columns["loan_amount"] - 15_000)
        + 3.0 * (columns["debt_ratio"] - 0.29)
        - 0.01 * (columns["tenure_months"] - 40)
        + 0.45 * columns["late_payments"]
        - 0.01 * (columns["age"] - 41)
        + 0.4 * (channel == "partner")
    )
    result: FloatArray = 1.0 / (1.0 + np.exp(-1.8 * z))
    return result
