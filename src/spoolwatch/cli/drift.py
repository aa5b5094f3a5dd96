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
    DriftConfig,
    DriftReport,
    DriftStatus,
    FeatureKind,
    drift_between,
)
from spoolwatch.monitoring.report_html import render_drift_html

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
    """The file as a pandas DataFrame; exits with a clear message when it cannot be read."""
    if not path.is_file():
        fail(f"{path}: no such file")
    name = path.name.lower()
    try:
        pd: Any = require("pandas", "pandas")
        if name.endswith(_PARQUET):
            require("pyarrow", "server")
            return pd.read_parquet(path)
        if name.endswith(_CSV):
            return pd.read_csv(path, sep="\t" if name.endswith(".tsv") else ",")
    except MissingExtra as exc:
        fail(str(exc))
    except Exception as exc:  # pandas and pyarrow raise many unrelated types for bad files
        fail(f"{path}: cannot be read as {'Parquet' if name.endswith(_PARQUET) else 'CSV'}: {exc}")
    fail(f"{path}: unknown format; expected a .csv, .tsv or .parquet file")


def _columns(frame: Any) -> dict[str, np.ndarray]:
    """Columns as numpy arrays: numbers as float64 (NaN missing), everything else as objects."""
    pd: Any = require("pandas", "pandas")
    out: dict[str, np.ndarray] = {}
    for name in frame.columns:
        series = frame[name]
        types = pd.api.types
        if types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(series.dtype):
            out[str(name)] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[str(name)] = series.to_numpy(dtype=object, na_value=None)
    return out


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


def _only_in(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> list[str]:
    return [name for name in first if name not in second]


def _write_html(report: DriftReport, html: Path, reference: Path, current: Path) -> None:
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
    columns: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
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
    ref_columns = _columns(_read_frame(reference))
    cur_columns = _columns(_read_frame(current))
    absent = sorted(k for k in kinds if k not in ref_columns or k not in cur_columns)
    if absent:
        fail(f"--numeric/--categorical name columns not in both files: {', '.join(absent)}")
    try:
        report = drift_between(
            ref_columns,
            cur_columns,
            kinds=kinds,
            n_bins=bins,
            max_categories=max_categories,
            config=config,
        )
    except ConfigError as exc:
        fail(f"{reference} and {current}: {exc}")
    if html is not None:
        _write_html(report, html, reference, current)
    _emit(report, reference, current, (ref_columns, cur_columns), as_json, html)
    threshold = {FailOn.YELLOW: DriftStatus.YELLOW, FailOn.RED: DriftStatus.RED}.get(fail_on)
    if threshold is not None and report.status.severity >= threshold.severity:
        raise typer.Exit(1)
