"""``spoolwatch drift`` on Parquet files next to the floor: pandas ``read_parquet`` + numpy PSI.

The data are those of ``bench/drift.py`` (10 numeric and 5 categorical columns; ``num_0``,
``num_1`` and ``cat_0`` drifted), written once as Parquet under ``bench/.cache/`` (it ignores
itself in git). The floor reads both files with pandas and computes, with numpy, the same
bins (reference quantiles; categories capped at 50), PSI and a chi-square test, and flags a
column when PSI >= 0.05 and p < 0.001. Each run is its own process (interpreter start-up
and imports included); the two take turns. Peak memory is the child's ``ru_maxrss``.
Usage::

    python bench/drift_floor.py                       # 100k reference x 5M current rows
    python bench/drift_floor.py --rows 1000000 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
PYTHON = sys.executable

FLOOR = r"""
import math, sys
import numpy as np
import pandas as pd

def edges_of(x, n_bins):
    x = x[np.isfinite(x)]
    e = np.unique(np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1)))
    if e.size == 1:
        e = np.append(e, e[0])
    e[-1] = np.nextafter(e[-1], np.inf)
    return e

def numeric_counts(e, x):
    nan = np.isnan(x)
    counts = np.bincount(np.searchsorted(e, x[~nan], side="right"), minlength=e.size + 1)
    return np.append(counts, nan.sum())

def psi(r, c):
    keep = (r + c) > 0
    r, c = r[keep] + 0.5, c[keep] + 0.5
    p, q = r / r.sum(), c / c.sum()
    return float(np.sum((q - p) * np.log(q / p)))

def p_value(r, c):
    keep = (r + c) > 0
    r, c = r[keep].astype(float), c[keep].astype(float)
    pooled = (r + c) / (r.sum() + c.sum())
    er, ec = pooled * r.sum(), pooled * c.sum()
    stat, dof = float(np.sum((r - er) ** 2 / er + (c - ec) ** 2 / ec)), r.size - 1
    if dof < 1 or stat <= 0:
        return 1.0
    s = 2.0 / (9.0 * dof)
    z = ((stat / dof) ** (1.0 / 3.0) - (1.0 - s)) / math.sqrt(s)
    return 0.5 * math.erfc(z / math.sqrt(2.0))

ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
flagged = []
for name in ref.columns:
    a, b = ref[name], cur[name]
    if pd.api.types.is_numeric_dtype(a.dtype):
        x = a.to_numpy(np.float64, na_value=np.nan)
        e = edges_of(x, 10)
        r, c = numeric_counts(e, x), numeric_counts(e, b.to_numpy(np.float64, na_value=np.nan))
    else:
        vr = a.value_counts()
        top = sorted(vr.items(), key=lambda kv: (-kv[1], kv[0]))[:50]
        cats = [k for k, _ in top]
        vc = b.value_counts().reindex(cats, fill_value=0).to_numpy()
        r = np.array([n for _, n in top] + [len(a) - a.isna().sum() - sum(n for _, n in top),
                                             a.isna().sum()])
        c = np.append(vc, [len(b) - b.isna().sum() - vc.sum(), b.isna().sum()])
    value = psi(r, c)
    if value >= 0.05 and p_value(r, c) < 1e-3:
        flagged.append(name)
print(",".join(flagged))
"""


def make_files(n_reference: int, n_current: int, seed: int) -> tuple[Path, Path]:
    """The two Parquet files of these sizes, generated once and kept in ``bench/.cache``."""
    import pandas as pd

    sys.path.insert(0, str(HERE))
    from drift import make_data  # bench/drift.py

    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    ref_path = CACHE / f"reference-{n_reference}-{seed}.parquet"
    cur_path = CACHE / f"current-{n_current}-{seed}.parquet"
    if not (ref_path.exists() and cur_path.exists()):
        reference, current = make_data(n_reference, n_current, seed)
        pd.DataFrame(reference).to_parquet(ref_path, index=False)
        del reference
        pd.DataFrame(current).to_parquet(cur_path, index=False)
    return ref_path, cur_path


def run(argv: list[str], src: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and stdout of one child process."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024, out.decode()


def flagged_by_cli(stdout: str) -> list[str]:
    """Columns the CLI's JSON report flags yellow or red."""
    report = orjson.loads(stdout)
    return [f["name"] for f in report["features"] if f["status"] in ("yellow", "red")]


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the files, time both sides in turns, print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=5_000_000, help="current rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="spoolwatch sources to run (another checkout)",
    )
    args = parser.parse_args(argv)

    ref, cur = make_files(args.reference_rows, args.rows, args.seed)
    sides = {
        "floor": [PYTHON, "-c", FLOOR, str(ref), str(cur)],
        "spoolwatch drift": [
            PYTHON, "-m", "spoolwatch", "drift", "--reference", str(ref), "--current", str(cur),
            "--json",
        ],
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in sides}
    peaks: dict[str, list[float]] = {name: [] for name in sides}
    flags: dict[str, set[str]] = {}
    print(
        f"rows: reference {args.reference_rows:,}, current {args.rows:,}; 15 columns "
        f"(5 categorical); Parquet {ref.stat().st_size / 2**20:.1f} + "
        f"{cur.stat().st_size / 2**20:.1f} MiB"
    )
    print(f"{'run':>3} {'side':17} {'s':>7} {'peak MiB':>9}  flagged")
    for i in range(args.repeat):
        for name, command in sides.items():
            seconds, peak, out = run(command, args.src)
            found = flagged_by_cli(out) if name != "floor" else out.strip().split(",")
            flags[name] = set(found) - {""}
            times[name].append(seconds)
            peaks[name].append(peak)
            print(f"{i + 1:>3} {name:17} {seconds:7.2f} {peak:9.0f}  {','.join(sorted(found))}")
    print(f"\n{'side':17} {'min s':>7} {'median s':>9} {'peak MiB':>9}")
    for name in sides:
        print(
            f"{name:17} {min(times[name]):7.2f} {statistics.median(times[name]):9.2f} "
            f"{max(peaks[name]):9.0f}"
        )
    ours, floor = "spoolwatch drift", "floor"
    t_ratio = statistics.median(times[ours]) / statistics.median(times[floor])
    m_ratio = max(peaks[ours]) / max(peaks[floor])
    same = flags[ours] == flags[floor]
    print(f"time ratio (medians) {t_ratio:.2f}x; target <= 1.3x: {_met(t_ratio <= 1.3)}")
    print(f"peak memory ratio {m_ratio:.2f}x; target <= 1.2x: {_met(m_ratio <= 1.2)}")
    drifted = ", ".join(sorted(flags[ours]))
    print(f"same drifted columns flagged: {'yes' if same else 'NO'} ({drifted})")
    return 0 if same else 1


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
