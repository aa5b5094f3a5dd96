"""The fast body check never accepts what the ingestion models refuse, and accepts what
agents send."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from spoolwatch.server.body_check import certainly_valid
from spoolwatch.server.ingest_request import MODELS, IngestKind

KINDS = [IngestKind.PREDICTION_REQUESTS, IngestKind.PREDICTION_INPUTS, IngestKind.ACTUALS]

_TIMESTAMPS = st.sampled_from(
    [
        "2026-11-24 20:01:33.377+0100",
        "2026-12-01T10:00:00Z",
        "2026-12-01",
        "yesterday",
        "",
        # at and beyond the edges of the range the store keeps (records.bounds)
        "1970-01-01 00:00:00.000+0000",
        "1970-01-01 00:30:00.000+0100",
        "2199-12-31T23:59:59.999Z",
        "2199-12-31 23:30:00.000-0100",
        "0001-01-01T00:00:00Z",
        "9999-12-31 23:59:59.999",
    ]
)
_ODD_FLOATS = st.sampled_from(
    [math.inf, -math.inf, math.nan, 1e308, -0.0, 1e12, math.nextafter(1e12, 2e12), 1e289, 1e290]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
    st.text(min_size=60, max_size=210),
    _TIMESTAMPS,
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=4),
    st.lists(st.text(max_size=3), max_size=4),
    st.dictionaries(st.text(max_size=3), _SCALARS, max_size=2),
)
_COLUMNS = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"name": st.text(max_size=3), "values": st.lists(_SCALARS, max_size=3)}
        ),
        _VALUES,
    ),
    max_size=3,
)
_NAMES = st.text(min_size=1, max_size=3)
_VALID: dict[IngestKind, dict[str, st.SearchStrategy[Any]]] = {
    IngestKind.PREDICTION_REQUESTS: {
        "timestamp": _TIMESTAMPS,
        "modelId": st.one_of(st.none(), st.text(max_size=70)),
        "batchId": st.one_of(st.none(), st.text(max_size=3)),
        "numPredictions": st.one_of(
            st.integers(min_value=-2, max_value=2**62),
            st.integers(2**53 - 2, 2**53 + 2),
            st.integers(2**62, 2**80),
        ),
        "executionTime": st.one_of(
            st.floats(min_value=-1, max_value=1e300),
            st.floats(min_value=1e12 - 1, max_value=1e12 + 1),
            st.integers(-2, 2**60),
            st.integers(10**12 - 2, 10**12 + 2),
            st.integers(2**1023, 2**1030),
            _ODD_FLOATS,
        ),
        "userError": st.booleans(),
        "systemError": st.booleans(),
    },
    IngestKind.PREDICTION_INPUTS: {
        "timestamp": _TIMESTAMPS,
        "modelId": st.one_of(st.none(), st.text(max_size=70)),
        "batchId": st.one_of(st.none(), st.text(max_size=3)),
        "features": st.lists(
            st.fixed_dictionaries(
                {"name": st.text(max_size=2), "values": st.lists(_SCALARS, min_size=2, max_size=3)}
            ),
            max_size=3,
        ),
        "predictions": st.lists(
            st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=2, max_size=2)),
            min_size=2,
            max_size=3,
        ),
        "associationIds": st.lists(
            st.one_of(_NAMES, st.text(min_size=199, max_size=201)), min_size=2, max_size=3
        ),
        "classNames": st.lists(_NAMES, min_size=2, max_size=2),
        "requestParameters": st.dictionaries(_NAMES, _SCALARS, max_size=2),
        "timeSeriesPredictionsReport": st.dictionaries(_NAMES, _SCALARS, max_size=1),
    },
    IngestKind.ACTUALS: {
        "associationId": st.one_of(st.text(max_size=3), st.text(min_size=199, max_size=201)),
        "actualValue": st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(-(2**60), 2**60),
            st.text(max_size=3),
        ),
        "wasActedOn": st.one_of(st.none(), st.booleans()),
        "timestamp": st.one_of(st.none(), _TIMESTAMPS),
    },
}


@st.composite
def _item(draw: st.DrawFn, kind: IngestKind) -> dict[str, Any]:
    """A mostly plausible item: each field valid-looking, replaced by anything, or left out."""
    item: dict[str, Any] = {}
    for name, valid in _VALID[kind].items():
        choice = draw(st.integers(0, 9))
        if choice < 7:
            item[name] = draw(valid)
        elif choice < 9:
            item[name] = draw(_VALUES)
    return item


@st.composite
def bodies(draw: st.DrawFn, kind: IngestKind) -> dict[str, Any]:
    items = draw(st.lists(_item(kind), min_size=1, max_size=3))
    body: dict[str, Any] = {"data": items}
    if kind is IngestKind.PREDICTION_INPUTS:
        body["skipDriftTracking"] = draw(st.one_of(st.booleans(), _VALUES))
    return body


def _model_accepts(kind: IngestKind, body: dict[str, Any]) -> bool:
    try:
        MODELS[kind].model_validate(body)
    except ValidationError:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(KINDS).flatmap(lambda kind: st.tuples(st.just(kind), bodies(kind))))
def test_the_fast_check_accepts_only_bodies_the_models_accept(
    case: tuple[IngestKind, dict[str, Any]],
) -> None:
    kind, body = case
    if certainly_valid(kind, body):
        assert _model_accepts(kind, body), body


def test_bodies_an_agent_sends_pass_the_fast_check() -> None:
    stats = {
        "data": [
            {
                "timestamp": "2026-12-01T10:00:00Z",
                "numPredictions": 25,
                "executionTime": 12.5,
                "modelId": "m1",
                "systemError": False,
            }
        ]
    }
    predictions = {
        "data": [
            {
                "timestamp": "2026-11-24 20:01:33.377+0100",
                "modelId": "m1",
                "features": [
                    {"name": "x", "values": [1.0, None]},
                    {"name": "c", "values": ["a", "b"]},
                ],
                "predictions": [[0.4, 0.6], [0.9, 0.1]],
                "associationIds": ["r-1", "r-2"],
                "classNames": ["no", "yes"],
            }
        ],
        "skipDriftTracking": True,
    }
    actuals = {
        "data": [
            {"associationId": "r-1", "actualValue": "yes", "wasActedOn": True},
            {"associationId": "r-2", "actualValue": 3},
        ]
    }
    for kind, body in (
        (IngestKind.PREDICTION_REQUESTS, stats),
        (IngestKind.PREDICTION_INPUTS, predictions),
        (IngestKind.ACTUALS, actuals),
    ):
        assert certainly_valid(kind, body) and _model_accepts(kind, body)
    assert not certainly_valid(IngestKind.PREDICTION_INPUTS, {"data": []})
    assert not certainly_valid(IngestKind.CUSTOM_METRIC, {"buckets": []})


def _stats(**fields: Any) -> dict[str, Any]:
    item = {"timestamp": "2026-12-01T10:00:00Z", "numPredictions": 1, "executionTime": 1.0}
    return {"data": [{**item, **fields}]}


def test_values_outside_the_bounds_are_left_to_the_model_which_names_the_field() -> None:
    kind = IngestKind.PREDICTION_REQUESTS
    for field, value in (
        ("executionTime", 1e308),
        ("executionTime", math.inf),
        ("executionTime", math.nan),
        ("executionTime", -0.5),
        ("numPredictions", 2**53 + 1),
        ("numPredictions", -1),
        ("timestamp", "0001-01-01T00:00:00Z"),
        ("timestamp", "9999-12-31T10:00:00Z"),
        ("timestamp", "1969-12-31 23:59:59.999+0000"),
    ):
        body = _stats(**{field: value})
        assert not certainly_valid(kind, body), (field, value)
        try:
            MODELS[kind].model_validate(body)
        except ValidationError as exc:
            assert exc.errors()[0]["loc"] == ("data", 0, field)
        else:
            raise AssertionError(f"{field}={value!r} was accepted")
    for field, value in (("executionTime", 1e12), ("numPredictions", 2**53)):
        body = _stats(**{field: value})
        assert certainly_valid(kind, body) and _model_accepts(kind, body)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "timestamp": _TIMESTAMPS,
                "numPredictions": _VALID[IngestKind.PREDICTION_REQUESTS]["numPredictions"],
                "executionTime": _VALID[IngestKind.PREDICTION_REQUESTS]["executionTime"],
            }
        ),
        min_size=1,
        max_size=2,
    )
)
def test_on_plain_stats_items_the_fast_check_and_the_models_agree_on_the_bounds(
    items: list[dict[str, Any]],
) -> None:
    body = {"data": items}
    kind = IngestKind.PREDICTION_REQUESTS
    assert certainly_valid(kind, body) == _model_accepts(kind, body), body
