"""``spoolwatch drift`` on small CSV and Parquet files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 4000
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.exponential(1000, n),
            "region": rng.choice(["north", "south", "east"], n),
            "only_ref": 1,
        }
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n),  # one sd higher: red
            "income": rng.exponential(1000, n),
            "region": rng.choice(["north", "south", "east"], n),
            "only_cur": "x",
        }
    )
    # The same missing rate on both sides: not drift (a missing rate going from 0 to 2.5 %
    # would be).
    reference.loc[:99, "region"] = None
    current.loc[:99, "region"] = None
    ref_path, cur_path = tmp_path / "reference.csv", tmp_path / "current.parquet"
    reference.to_csv(ref_path, index=False)
    current.to_parquet(cur_path)
    return ref_path, cur_path


def _run(*args: str | Path) -> object:
    return runner.invoke(app, ["drift", *map(str, args)])


def test_json_output_flags_the_shifted_column_only(files: tuple[Path, Path]) -> None:
    reference, current = files
    result = _run("--reference", reference, "--current", current, "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    statuses = {f["name"]: f["status"] for f in report["features"]}
    assert statuses == {"age": "red", "income": "green", "region": "green"}
    assert report["status"] == "red"
    assert report["onlyInReference"] == ["only_ref"]
    assert report["onlyInCurrent"] == ["only_cur"]
    region = next(f for f in report["features"] if f["name"] == "region")
    assert region["kind"] == "categorical"
    assert region["missingRateCurrent"] == pytest.approx(100 / 4000)


def test_table_output_and_html_report(files: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = files
    html = tmp_path / "report.html"
    result = _run("--reference", reference, "--current", current, "--html", html)
    assert result.exit_code == 0, result.output
    assert "age" in result.stdout and "red" in result.stdout
    assert "not compared (in one file only): only_ref, only_cur" in result.stdout
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page and "age" in page
    assert "http://" not in page and "https://" not in page  # self-contained


@pytest.mark.parametrize(("fail_on", "code"), [("red", 1), ("yellow", 1), ("never", 0)])
def test_fail_on_sets_the_exit_code(files: tuple[Path, Path], fail_on: str, code: int) -> None:
    reference, current = files
    result = _run("--reference", reference, "--current", current, "--fail-on", fail_on)
    assert result.exit_code == code


def test_identical_files_do_not_fail(files: tuple[Path, Path]) -> None:
    reference, _ = files
    result = _run("--reference", reference, "--current", reference, "--fail-on", "yellow")
    assert result.exit_code == 0, result.output


def test_other_metric_and_kind_override(files: tuple[Path, Path]) -> None:
    reference, current = files
    result = _run(
        "--reference",
        reference,
        "--current",
        current,
        "--json",
        "--metric",
        "wasserstein",
        "--categorical",
        "income",
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["metric"] == "wasserstein"
    kinds = {f["name"]: f["kind"] for f in report["features"]}
    assert kinds["income"] == "categorical"


def test_missing_file_is_a_clear_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    _, current = files
    result = _run("--reference", tmp_path / "nope.csv", "--current", current)
    assert result.exit_code == 2
    assert "nope.csv: no such file" in result.stderr


def test_unknown_format_and_unreadable_file_are_clear_errors(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    reference, current = files
    other = tmp_path / "data.json"
    other.write_text("{}")
    result = _run("--reference", other, "--current", current)
    assert result.exit_code == 2 and "unknown format" in result.stderr
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    result = _run("--reference", reference, "--current", broken)
    assert result.exit_code == 2 and "cannot be read as Parquet" in result.stderr


def test_no_common_column_is_a_clear_error(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x\n1\n2\n")
    b.write_text("y\n1\n2\n")
    result = _run("--reference", a, "--current", b)
    assert result.exit_code == 2 and "no column in common" in result.stderr


def test_bad_options_are_rejected(files: tuple[Path, Path]) -> None:
    reference, current = files
    result = _run("--reference", reference, "--current", current, "--metric", "ks")
    assert result.exit_code == 2 and "unknown drift metric" in result.stderr
    result = _run(
        "--reference",
        reference,
        "--current",
        current,
        "--numeric",
        "age",
        "--categorical",
        "age",
    )
    assert result.exit_code == 2 and "both" in result.stderr
    result = _run("--reference", reference, "--current", current, "--categorical", "zzz")
    assert result.exit_code == 2 and "zzz" in result.stderr


def test_unwritable_html_path_is_a_clear_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = files
    target = tmp_path / "missing-dir" / "report.html"
    result = _run("--reference", reference, "--current", current, "--html", target)
    assert result.exit_code == 2 and "cannot write the HTML report" in result.stderr
    assert not target.exists()
