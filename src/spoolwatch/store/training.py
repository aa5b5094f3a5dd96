"""Training data (CSV or Parquet) to a drift baseline: feature kinds inferred, overridable."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spoolwatch.errors import ConfigError, require
from spoolwatch.monitoring.baseline import Baseline, FeatureBaseline
from spoolwatch.monitoring.binning import FeatureKind, category_key
from spoolwatch.monitoring.prediction import TargetType

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["baseline_from_frame", "read_training_data"]


def read_training_data(path: Path) -> pd.DataFrame:
    """Read a ``.csv`` or ``.parquet`` file; :class:`ConfigError` naming the file otherwise."""
    pandas: Any = require("pandas", "pandas")
    if not path.is_file():
        raise ConfigError(f"--training-data: {path} does not exist or is not a file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pandas.read_csv(path)
        elif suffix in {".parquet", ".pq"}:
            frame = pandas.read_parquet(path)
        else:
            raise ConfigError(f"--training-data: {path} is neither .csv nor .parquet")
    except ConfigError:
        raise
    except Exception as exc:  # pandas and pyarrow raise many kinds of parse errors
        raise ConfigError(f"--training-data: cannot read {path}: {exc}") from exc
    if frame.empty:
        raise ConfigError(f"--training-data: {path} has no rows")
    return frame


def _class_names(
    labels: list[str | None], target_type: str, given: tuple[str, ...]
) -> tuple[str, ...]:
    seen = sorted({label for label in labels if label is not None})
    if given:
        unknown = sorted(set(seen) - set(given))
        if unknown:
            raise ConfigError(f"--class-names: the target column has other classes: {unknown}")
        return given
    if target_type == "binary" and len(seen) != 2:
        raise ConfigError(f"binary target needs 2 classes in the training data, found {seen}")
    if target_type == "multiclass" and len(seen) < 3:
        raise ConfigError(f"multiclass target needs 3 or more classes, found {seen}")
    return tuple(seen)


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
        raise ConfigError(
            f"--target: column {target!r} is not in the training data "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )
    kinds: dict[str, FeatureKind] = {}
    for name, kind in (feature_types or {}).items():
        if name not in frame.columns or name == target:
            raise ConfigError(f"--feature-type: {name!r} is not a feature column")
        try:
            kinds[name] = FeatureKind(kind)
        except ValueError:
            raise ConfigError(f"--feature-type: {kind!r} is not numeric or categorical") from None
    columns = {str(name): frame[name].to_numpy() for name in frame.columns if name != target}
    baseline = Baseline.from_columns(columns, kinds=kinds)
    values = frame[target].to_numpy()
    if target_type == "regression":
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
