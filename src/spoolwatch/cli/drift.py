"""``spoolwatch drift``: the drift statistics of two data files, without a server.

Exit codes: 0 when the comparison ran (whatever it found, unless ``--fail-on`` says
otherwise), 1 when ``--fail-on yellow|red`` is given and the overall status reaches it,
2 for bad input (missing or unreadable file, no common column, bad option).
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from spoolwatch.cli.output import console, fail, print_json_line
from spoolwatch.errors import ConfigError, MissingExtra, require
from spoolwatch.monitoring import (
    Baseline,
    DriftConfig,
    DriftReport,
    DriftStatus,
    FeatureBaseline,
    FeatureKind,
    compute_drift,
)
from spoolwatch.monitoring.binning import IntArray, category_frequencies

logger = logging.getLogger(__name__)

_CSV = (".csv", ".csv.gz", ".tsv", ".txt")
_PARQUET = (".parquet", ".pq")
_STYLE = {
    DriftStatus.GREEN: "green",
    DriftStatus.YELLOW: "yellow",
    DriftStatus.RED: "bold red",
    DriftStatus.UNKNOWN: "dim",
}


class FailOn(StrEnum):
    """Which overall status makes the command exit with 1."""

    NEVER = "never"
    YELLOW = "yellow"
    RED = "red"


def _read_frame(path: Path) -> Any:
    """A CSV file as a pandas DataFrame; exits with a clear message when it cannot be read."""
    try:
        pd: Any = require("pandas", "pandas")
        return pd.read_csv(path, sep="\t" if path.name.lower().endswith(".tsv") else ",")
    except MissingExtra as exc:
        fail(str(exc))
    except Exception as exc:  # pandas raises many unrelated types for bad files
        fail(f"{path}: cannot be read as CSV: {exc}")


def _columns(frame: Any) -> dict[str, np.ndarray]:
    """Columns as numpy arrays: numbers as float64 (NaN missing), everything else as objects."""
    return {str(name): _values(frame[name]) for name in frame.columns}


def _values(series: Any) -> np.ndarray:
    pd: Any = require("pandas", "pandas")
    types = pd.api.types
    if types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)  # type: ignore[no-any-return]
    return series.to_numpy(dtype=object, na_value=None)  # type: ignore[no-any-return]


class _CsvSource:
    """A CSV file, read whole by pandas (its type inference needs every row)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns = _columns(_read_frame(path))
        self.names = list(self.columns)

    def feature(
        self, name: str, kind: str | None, n_bins: int, max_categories: int
    ) -> FeatureBaseline:
        return FeatureBaseline.from_values(
            name, self.columns[name], kind=kind, n_bins=n_bins, max_categories=max_categories
        )

    def counts(self, features: dict[str, FeatureBaseline]) -> dict[str, IntArray]:
        return {name: f.bin_counts(self.columns[name]) for name, f in features.items()}


def _open(path: Path) -> _CsvSource | ParquetSource:
    """The file as a source of columns; exits with a clear message when it cannot be read."""
    if not path.is_file():
        fail(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith(_PARQUET):
        try:
            return ParquetSource(path)
        except MissingExtra as exc:
            fail(str(exc))
        except Exception as exc:  # pyarrow raises many unrelated types for bad files
            fail(f"{path}: cannot be read as Parquet: {exc}")
    if name.endswith(_CSV):
        return _CsvSource(path)
    fail(f"{path}: unknown format; expected a .csv, .tsv or .parquet file")


def _kinds(numeric: list[str], categorical: list[str]) -> dict[str, str]:
    both = sorted(set(numeric) & set(categorical))
    if both:
        fail(f"columns given as both --numeric and --categorical: {', '.join(both)}")
    return {**{n: "numeric" for n in numeric}, **{c: "categorical" for c in categorical}}


def _print_table(report: DriftReport, reference: Path, current: Path) -> None:
    table = Table(
        "column",
        "kind",
        report.metric,
        "p-value",
        "missing",
        "rows",
        "status",
        title=f"drift of {current.name} against {reference.name}",
    )
    for d in report.features:
        missing = "-"
        if d.missing_rate_reference is not None and d.missing_rate_current is not None:
            missing = f"{d.missing_rate_reference:.1%} → {d.missing_rate_current:.1%}"
        table.add_row(
            d.name,
            "num" if d.kind is FeatureKind.NUMERIC else "cat",
            "-" if d.value is None else f"{d.value:.4f}",
            "-" if d.p_value is None else f"{d.p_value:.2g}",
            missing,
            f"{d.reference_rows:,} → {d.current_rows:,}",
            f"[{_STYLE[d.status]}]{d.status.value}[/]",
        )
    console.print(table)
    flagged = [d.name for d in report.features if d.status in (DriftStatus.YELLOW, DriftStatus.RED)]
    console.print(
        f"overall: [{_STYLE[report.status]}]{report.status.value}[/] "
        f"({len(flagged)} of {len(report.features)} columns drifted"
        + (f": {', '.join(flagged)})" if flagged else ")")
    )


def _only_in(first: list[str], second: list[str]) -> list[str]:
    return [name for name in first if name not in second]


def _write_html(report: DriftReport, html: Path, reference: Path, current: Path) -> None:
    from spoolwatch.monitoring.report_html import render_drift_html

    page = render_drift_html(
        report,
        title="spoolwatch drift report",
        subtitle=f"current: {current}; reference: {reference}",
    )
    try:
        html.write_text(page, encoding="utf-8")
    except OSError as exc:
        fail(f"{html}: cannot write the HTML report: {exc.strerror}")


def _emit(
    report: DriftReport,
    reference: Path,
    current: Path,
    columns: tuple[list[str], list[str]],
    as_json: bool,
    html: Path | None,
) -> None:
    only_ref, only_cur = _only_in(*columns), _only_in(columns[1], columns[0])
    if as_json:
        print_json_line(
            {
                "reference": str(reference),
                "current": str(current),
                "onlyInReference": only_ref,
                "onlyInCurrent": only_cur,
                **report.to_dict(),
            }
        )
        return
    _print_table(report, reference, current)
    if only_ref or only_cur:
        console.print(f"not compared (in one file only): {', '.join(only_ref + only_cur)}")
    if html is not None:
        console.print(f"HTML report: {html}")


class _Unreadable(Exception):
    """A Parquet file whose footer read but whose data do not."""


class ParquetSource:
    """A Parquet file read with pyarrow, one column or one batch of rows at a time.

    Numbers become float64 arrays a batch at a time; categories are counted by pyarrow
    (string columns are read dictionary-encoded), so neither a full copy of the file nor a
    Python object per value is ever made. Columns of other types (dates, decimals, nulls)
    or given a kind against their type take pandas' conversion, a whole column at a time,
    so that every column is binned exactly as ``pandas.read_parquet`` would present it.
    """

    def __init__(self, path: Path) -> None:
        pq: Any = require("pyarrow.parquet", "server")
        self._pa: Any = require("pyarrow", "server")
        self.path = path
        schema = pq.read_schema(path)
        self.names: list[str] = list(schema.names)
        self._types = {name: schema.field(name).type for name in self.names}
        strings = [n for n, t in self._types.items() if self._is_string(t)]
        self._file = pq.ParquetFile(path, read_dictionary=strings)

    def _is_string(self, arrow_type: Any) -> bool:
        types = self._pa.types
        return bool(types.is_string(arrow_type) or types.is_large_string(arrow_type))

    def _way(self, name: str, kind: str | None) -> str:
        """How the column is converted: ``numbers``, ``categories`` or ``pandas``."""
        types, arrow_type = self._pa.types, self._types[name]
        if types.is_dictionary(arrow_type) and self._is_string(arrow_type.value_type):
            arrow_type = arrow_type.value_type
        number = types.is_integer(arrow_type) or types.is_floating(arrow_type)
        text = self._is_string(arrow_type) or types.is_boolean(arrow_type)
        if number and kind != FeatureKind.CATEGORICAL:
            return "numbers"
        if (number or text) and kind != FeatureKind.NUMERIC:
            return "categories"
        return "pandas"

    def _read(self, columns: list[str], batch_rows: int) -> Any:
        try:
            yield from self._file.iter_batches(batch_size=batch_rows, columns=columns)
        except (OSError, self._pa.ArrowException) as exc:
            raise _Unreadable(f"{self.path}: cannot be read as Parquet: {exc}") from exc

    def _column(self, name: str) -> Any:
        try:
            return self._file.read(columns=[name]).column(0)
        except (OSError, self._pa.ArrowException) as exc:
            raise _Unreadable(f"{self.path}: cannot be read as Parquet: {exc}") from exc

    def feature(
        self, name: str, kind: str | None, n_bins: int, max_categories: int
    ) -> FeatureBaseline:
        """The baseline of one column."""
        way = self._way(name, kind)
        if way == "categories":
            frequencies: dict[str | None, int] = {}
            for batch in self._read([name], 1 << 20):
                _add(frequencies, _frequencies(batch.column(0)))
            return FeatureBaseline.from_frequencies(
                name, frequencies, max_categories=max_categories
            )
        column = self._column(name)
        values = _numbers(column) if way == "numbers" else _values(column.to_pandas())
        return FeatureBaseline.from_values(
            name, values, kind=kind, n_bins=n_bins, max_categories=max_categories
        )

    def counts(
        self, features: dict[str, FeatureBaseline], batch_rows: int = 1 << 17
    ) -> dict[str, IntArray]:
        """Counts of every column over the bins of ``features``, batch by batch."""
        ways = {name: self._way(name, f.kind.value) for name, f in features.items()}
        fast = [name for name, way in ways.items() if way != "pandas"]
        counts = {name: np.zeros(f.n_bins, np.int64) for name, f in features.items()}
        frequencies: dict[str, dict[str | None, int]] = {
            name: {} for name in fast if ways[name] == "categories"
        }
        for batch in self._read(fast, batch_rows) if fast else ():
            for name, column in zip(fast, batch.columns, strict=True):
                if ways[name] == "numbers":
                    counts[name] += features[name].bin_counts(_numbers(column))
                else:
                    _add(frequencies[name], _frequencies(column))
        for name, found in frequencies.items():
            counts[name] = features[name].bin_frequencies(found)
        for name in (n for n, way in ways.items() if way == "pandas"):
            counts[name] = features[name].bin_counts(_values(self._column(name).to_pandas()))
        return counts


def _numbers(column: Any) -> np.ndarray:
    """An arrow column of numbers as float64, NaN for nulls.

    Read straight from the arrow buffers: pyarrow's own ``to_numpy`` imports pandas, most
    of a second of start-up, for a conversion numpy does alone.
    """
    pa: Any = require("pyarrow", "server")
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 0:
            return np.zeros(0, dtype=np.float64)
        column = column.combine_chunks()
    floats = column.cast(pa.float64(), safe=False)
    validity, data = floats.buffers()[:2]
    n, offset = len(floats), floats.offset
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    values = np.frombuffer(data, dtype=np.float64, count=n, offset=offset * 8)
    if floats.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        values = np.where(bits[offset : offset + n].astype(bool), values, np.nan)
    return values


def _frequencies(column: Any) -> dict[str | None, int]:
    pc: Any = require("pyarrow.compute", "server")
    counted = pc.value_counts(column)
    return category_frequencies(
        counted.field("values").to_pylist(), counted.field("counts").to_pylist()
    )


def _add(total: dict[str | None, int], more: dict[str | None, int]) -> None:
    for key, count in more.items():
        total[key] = total.get(key, 0) + count


def drift(
    reference: Path = typer.Option(
        ..., "--reference", help="Reference data (training), CSV or Parquet."
    ),
    current: Path = typer.Option(..., "--current", help="Current data (scoring), CSV or Parquet."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML report here."
    ),
    metric: str = typer.Option("psi", "--metric", help="psi, jensen_shannon or wasserstein."),
    fail_on: FailOn = typer.Option(
        FailOn.NEVER, "--fail-on", help="Exit 1 when the overall status reaches yellow or red."
    ),
    bins: int = typer.Option(10, "--bins", min=1, help="Quantile bins per numeric column."),
    max_categories: int = typer.Option(
        50, "--max-categories", min=1, help="Categories kept per column; the rest count as other."
    ),
    numeric: list[str] = typer.Option(
        [], "--numeric", help="Treat this column as numeric (repeatable)."
    ),
    categorical: list[str] = typer.Option(
        [], "--categorical", help="Treat this column as categorical (repeatable)."
    ),
) -> None:
    """Compare two data files column by column: PSI (or another metric) and a status each."""
    kinds = _kinds(numeric, categorical)
    try:
        config = DriftConfig(metric=metric)
    except ConfigError as exc:
        fail(str(exc))
    ref_source, cur_source = _open(reference), _open(current)
    absent = sorted(k for k in kinds if k not in ref_source.names or k not in cur_source.names)
    if absent:
        fail(f"--numeric/--categorical name columns not in both files: {', '.join(absent)}")
    common = [name for name in ref_source.names if name in cur_source.names]
    if not common:
        fail(f"{reference} and {current}: the reference and current data have no column in common")
    try:
        features = {
            name: ref_source.feature(name, kinds.get(name), bins, max_categories) for name in common
        }
        counts = cur_source.counts(features)
    except ConfigError as exc:
        fail(f"{reference} and {current}: {exc}")
    except (_Unreadable, MissingExtra) as exc:
        fail(str(exc))
    report = compute_drift(Baseline(features), counts, config=config)
    if html is not None:
        _write_html(report, html, reference, current)
    _emit(report, reference, current, (ref_source.names, cur_source.names), as_json, html)
    threshold = {FailOn.YELLOW: DriftStatus.YELLOW, FailOn.RED: DriftStatus.RED}.get(fail_on)
    if threshold is not None and report.status.severity >= threshold.severity:
        raise typer.Exit(1)
