"""Property tests of binning, and the package's public names."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import spoolwatch.monitoring as monitoring
from spoolwatch.monitoring import FeatureBaseline, FeatureKind

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
numbers = st.one_of(finite, st.just(math.nan), st.none(), st.just(math.inf), st.just(-math.inf))


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=200), st.lists(numbers, max_size=200))
def test_every_value_lands_in_exactly_one_numeric_bin_consistent_with_the_edges(
    training: list[float], values: list[float | None]
) -> None:
    feature = FeatureBaseline.from_values("x", training, kind=FeatureKind.NUMERIC, n_bins=7)
    counts = feature.bin_counts(values)
    assert counts.shape == (feature.n_bins,) and counts.sum() == len(values)
    assert feature.counts.sum() == len(training)
    arr = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    lo, hi = feature.edges[0], feature.edges[-1]
    assert counts[-1] == np.isnan(arr).sum()
    assert counts[0] == np.sum(arr < lo)
    assert counts[-2] == np.sum(arr >= hi)
    assert feature.counts[0] == 0 and feature.counts[-2] == 0  # training is inside its range


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=100),
    st.lists(st.one_of(st.sampled_from(["a", "b", "z"]), st.none(), st.just(math.nan))),
    st.integers(min_value=1, max_value=3),
)
def test_categorical_counts_add_up_and_unseen_values_count_as_other(
    training: list[str | None], values: list[object], cap: int
) -> None:
    feature = FeatureBaseline.from_values("c", training, max_categories=cap)
    counts = feature.bin_counts(values)
    assert counts.sum() == len(values)
    missing = sum(1 for v in values if v is None or (isinstance(v, float) and math.isnan(v)))
    assert counts[-1] == missing
    assert counts[-2] == sum(
        1 for v in values if isinstance(v, str) and v not in feature.categories
    )


def test_every_public_name_is_exported_and_importable() -> None:
    for name in monitoring.__all__:
        assert getattr(monitoring, name) is not None
    assert sorted(monitoring.__all__) == sorted(set(monitoring.__all__))
    public_classes = {
        name
        for name, value in vars(monitoring).items()
        if isinstance(value, type) and not name.startswith("_")
    }
    assert public_classes <= set(monitoring.__all__)
