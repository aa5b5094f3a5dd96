"""Training data (CSV or Parquet) to a drift baseline: feature kinds inferred, overridable.

Classes are taken from the training data only when their order cannot be mistaken: a
binary target of exactly 0 and 1 or of False and True (the second is the positive class),
or a multiclass target of the integers 0 to k-1 (in numeric order). Any other
classification target needs its class names, in the order of the model's probabilities,
so that no class becomes "positive" because its name sorts last.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from spoolwatch.errors import require
from spoolwatch.monitoring.baseline import Baseline, FeatureBaseline
from spoolwatch.monitoring.binning import FeatureKind, category_key, infer_kind
from spoolwatch.monitoring.prediction import TargetType
from spoolwatch.store.deployment import DeploymentFieldError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TRAINING_SUFFIXES",
    "baseline_from_frame",
    "inferred_class_names",
    "read_training_bytes",
    "read_training_data",
]

#: File name endings read as training data, and the format each stands for.
TRAINING_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in TRAINING_SUFFIXES:
        raise DeploymentFieldError("training_data", f"{name} is neither .csv nor .parquet")
    return TRAINING_SUFFIXES[suffix]


def _parse(source: Path | BinaryIO, kind: str, name: str) -> pd.DataFrame:
    pandas: Any = require("pandas", "pandas")
    try:
        frame = pandas.read_csv(source) if kind == "csv" else pandas.read_parquet(source)
    except Exception as exc:  # pandas and pyarrow raise many kinds of parse errors
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DeploymentFieldError("training_data", f"cannot read {name}: {reason}") from exc
    if frame.empty:
        raise DeploymentFieldError("training_data", f"{name} has no rows")
    return frame


def read_training_data(path: Path) -> pd.DataFrame:
    """Read a ``.csv`` or ``.parquet`` file; :class:`DeploymentFieldError` naming the file
    otherwise."""
    if not path.is_file():
        raise DeploymentFieldError("training_data", f"{path} does not exist or is not a file")
    return _parse(path, _format_of(path.name), str(path))


def read_training_bytes(data: bytes, filename: str) -> pd.DataFrame:
    """Read an uploaded ``.csv`` or ``.parquet`` file (its format from ``filename``)."""
    if not data:
        raise DeploymentFieldError("training_data", f"{filename} is empty")
    return _parse(io.BytesIO(data), _format_of(filename), filename)


def _example(classes: list[str]) -> str:
    return ",".join(classes)


def inferred_class_names(target_type: str, seen: list[str]) -> tuple[str, ...] | None:
    """The class names of a classification target whose classes are unambiguous (see the
    module's docstring), in prediction order; ``None`` when the names must be given."""
    found = set(seen)
    if target_type == "binary":
        if found == {"0", "1"}:
            return ("0", "1")
        if {label.lower() for label in found} == {"false", "true"} and len(found) == 2:
            return tuple(sorted(found, key=lambda label: label.lower() == "true"))
        return None
    if all(label.isdigit() for label in found):
        numbers = sorted(int(label) for label in found)
        if numbers == list(range(len(numbers))) and all(str(n) in found for n in numbers):
            return tuple(str(n) for n in numbers)
    return None


def _class_names(
    labels: list[str | None], target_type: str, given: tuple[str, ...]
) -> tuple[str, ...]:
    seen = sorted({label for label in labels if label is not None})
    if given:
        unknown = sorted(set(seen) - set(given))
        if unknown:
            raise DeploymentFieldError(
                "class_names", f"the target column has other classes: {unknown}"
            )
        return given
    if target_type == "binary" and len(seen) != 2:
        raise DeploymentFieldError(
            "target", f"a binary target needs 2 classes in the training data, found {seen}"
        )
    if target_type == "multiclass" and len(seen) < 3:
        raise DeploymentFieldError(
            "target", f"a multiclass target needs 3 or more classes, found {seen}"
        )
    inferred = inferred_class_names(target_type, seen)
    if inferred is None:
        order = "the positive class second" if target_type == "binary" else "in the model's order"
        raise DeploymentFieldError(
            "class_names",
            f"required: the target's classes are {seen}; name them in the order of the "
            f"model's probabilities ({order}), e.g. {_example(seen)}",
        )
    return inferred


def _check_regression_target(target: str, values: Any) -> None:
    if infer_kind(values) is FeatureKind.NUMERIC:
        return
    example = next((v for v in values.tolist() if isinstance(v, str | bool)), None)
    raise DeploymentFieldError(
        "target",
        f"column {target!r} is not numeric (it holds {example!r}); a regression target "
        f"must be numbers (for classes use type binary or multiclass)",
    )


def baseline_from_frame(
    frame: pd.DataFrame,
    *,
    target: str,
    target_type: str,
    class_names: tuple[str, ...] = (),
    feature_types: Mapping[str, str] | None = None,
) -> tuple[Baseline, tuple[str, ...]]:
    """The baseline of every column but ``target``, plus the target's; and the class names.

    Classification targets are baselined as the distribution of class labels, which the
    monitored predicted class (argmax of the probabilities) is compared with.
    """
    if target not in frame.columns:
        raise DeploymentFieldError(
            "target",
            f"column {target!r} is not in the training data "
            f"(columns: {', '.join(map(str, frame.columns))})",
        )
    kinds: dict[str, FeatureKind] = {}
    for name, kind in (feature_types or {}).items():
        if name not in frame.columns or name == target:
            raise DeploymentFieldError("feature_types", f"{name!r} is not a feature column")
        try:
            kinds[name] = FeatureKind(kind)
        except ValueError:
            raise DeploymentFieldError(
                "feature_types", f"{kind!r} is not numeric or categorical"
            ) from None
    columns = {str(name): frame[name].to_numpy() for name in frame.columns if name != target}
    baseline = Baseline.from_columns(columns, kinds=kinds)
    values = frame[target].to_numpy()
    if target_type == "regression":
        _check_regression_target(target, values)
        target_baseline = FeatureBaseline.from_values("prediction", values, kind="numeric")
        names: tuple[str, ...] = ()
    else:
        labels = [category_key(v) for v in values.tolist()]
        names = _class_names(labels, target_type, class_names)
        target_baseline = FeatureBaseline.from_values(
            "prediction", labels, kind="categorical", max_categories=max(len(names), 1)
        )
    return (
        Baseline(baseline.features, target_baseline, TargetType(target_type), names),
        names,
    )
