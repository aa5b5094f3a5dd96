"""The Reporter against DataRobot's ``datarobot-mlops`` library: the same calls, the same spool.

Each run is a fresh child process that makes ``--calls`` x ``report_predictions_data`` (25 rows
x 10 features, numeric and categorical, with predictions and association ids) and as many
``report_deployment_stats`` into an empty filesystem JSON spool, then closes. The children run
one library after the other (A/B, alternating, ``--repeat`` rounds); reported are min/median
calls/s (both calls counted, timed from the first call to the end of close) and the child's
peak RSS (``ru_maxrss`` from ``wait4``).

DataRobot's library is installed from PyPI only into a throwaway virtual environment under
``bench/.venvs/datarobot-mlops`` (made on first use, reused after); spoolwatch never depends on
it. When it cannot be made (no network), the comparison is skipped with the reason and the
Reporter's own figures are still printed.

Inputs: ``frame`` gives both libraries pandas DataFrames; ``dict`` gives the Reporter a dict of
columns (lists) while DataRobot's library, which takes only DataFrames, still gets the
prebuilt DataFrames (so its figure does not include building them). A pool of 64 distinct
inputs is built before timing and used round-robin by both.

Usage: ``python bench/reporter_vs_datarobot.py [--calls N] [--repeat N] [--input frame dict]
[--profile FILE]``. ``--child`` is the child side (internal).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venvs" / "datarobot-mlops"
DATAROBOT_VERSION = "11.2.62"  # the version the wire-format fixtures came from
DEPLOYMENT = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
ROWS = 25
FEATURES = 10
POOL = 64
REGIONS = ["north", "south", "east", "west", "centre"]
PLANS = ["free", "basic", "pro"]


# -- the child: one library, one run -----------------------------------------------------------


def _columns(seed: int) -> dict[str, list[Any]]:
    """25 rows x 10 features: 6 numeric (float, int, one with missing values), 3 categorical
    (one with missing values), 1 boolean."""
    rows = range(ROWS)
    return {
        "age": [18.0 + (seed * 7 + i * 13) % 60 for i in rows],
        "income": [20_000.5 + ((seed + i) * 7919) % 90_000 for i in rows],
        "num_purchases": [(seed + i * 3) % 40 for i in rows],
        "tenure_days": [(seed * 11 + i * 17) % 3650 for i in rows],
        "score": [((seed + i) % 100) / 100 for i in rows],
        "balance": [None if (seed + i) % 9 == 0 else (seed * i) % 5000 / 3 for i in rows],
        "region": [REGIONS[(seed + i) % len(REGIONS)] for i in rows],
        "plan": [PLANS[(seed * 3 + i) % len(PLANS)] for i in rows],
        "channel": [None if (seed + i) % 7 == 0 else f"ch-{(seed + i) % 4}" for i in rows],
        "is_member": [(seed + i) % 2 == 0 for i in rows],
    }


def _inputs(kind: str, library: str) -> list[tuple[Any, list[float], list[str]]]:
    import pandas as pd

    pool = []
    for seed in range(POOL):
        columns = _columns(seed)
        features: Any = columns if kind == "dict" and library == "spoolwatch" else None
        if features is None:
            features = pd.DataFrame(columns)
        predictions = [100.0 + ((seed * 31 + i * 7) % 400) / 4 for i in range(ROWS)]
        ids = [f"req-{seed}-{i}" for i in range(ROWS)]
        pool.append((features, predictions, ids))
    return pool


def _open_datarobot(spool: str) -> tuple[Any, Any]:
    from datarobot_mlops.mlops import MLOps

    mlops = MLOps()
    mlops.set_deployment_id(DEPLOYMENT).set_model_id(MODEL).set_filesystem_spooler(spool)
    mlops.init()
    return mlops, lambda: mlops.shutdown(timeout_sec=0)


def _open_spoolwatch(spool: str) -> tuple[Any, Any]:
    from spoolwatch.report import Reporter

    reporter = Reporter(spool, deployment_id=DEPLOYMENT, model_id=MODEL)
    return reporter, reporter.close


def child(library: str, kind: str, calls: int, spool: str, profile: str | None) -> None:
    """Make the calls with one library and print one JSON line of figures."""
    pool = _inputs(kind, library)
    # What the caller's own data costs (pandas, the inputs), before the library is imported.
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    client, close = (_open_datarobot if library == "datarobot" else _open_spoolwatch)(spool)
    ready = time.perf_counter() - started
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    began = time.perf_counter()
    for call in range(calls):
        features, predictions, ids = pool[call % POOL]
        client.report_predictions_data(
            features_df=features, predictions=predictions, association_ids=ids
        )
        client.report_deployment_stats(ROWS, 12.5)
    close()
    seconds = time.perf_counter() - began
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    figures = {
        "seconds": seconds,
        "calls_per_s": 2 * calls / seconds,
        "startup_s": ready,
        "base_mib": base,
    }
    print(json.dumps(figures))


# -- the parent: environments, alternation, figures --------------------------------------------


def datarobot_requirements() -> list[str]:
    """DataRobot's library, with the same pandas, numpy and pyarrow as this environment.

    pandas loads pyarrow when it is installed and then stores strings in Arrow arrays, which
    changes both the memory of ``import pandas`` and the cost of reading string columns; both
    sides must see the same DataFrames.
    """
    from importlib.metadata import PackageNotFoundError, version

    pins = [f"datarobot-mlops=={DATAROBOT_VERSION}"]
    for package in ("pandas", "numpy", "pyarrow"):
        with contextlib.suppress(PackageNotFoundError):
            pins.append(f"{package}=={version(package)}")
    return pins


def _stack(python: Path) -> str:
    code = (
        "from importlib.metadata import version as v\n"
        "for p in ('pandas', 'numpy', 'pyarrow'):\n"
        "    try: print(p + '==' + v(p))\n"
        "    except Exception: pass"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return " ".join(done.stdout.split())


def ensure_datarobot_venv(venv: Path) -> tuple[Path | None, str]:
    """The throwaway environment's python, made on first use; ``(None, why)`` when it cannot be."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import datarobot_mlops.mlops, pandas"]
    wanted = " ".join(pin for pin in datarobot_requirements() if "datarobot" not in pin)
    if (
        python.exists()
        and subprocess.run(probe, capture_output=True, check=False).returncode == 0
        and _stack(python) == wanted
    ):
        return python, "reused"
    print(f"making {venv}: {' '.join(datarobot_requirements())} from PyPI", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", *datarobot_requirements()],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, check=False, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{' '.join(step[:4])}: {exc}"
        if done.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            return None, f"{' '.join(step[:4])} failed: {done.stderr.strip()[-500:]}"
    return python, "made"


def run_child(python: Path, library: str, kind: str, calls: int, profile: str | None) -> dict:
    """One child run in an empty spool; its figures plus peak RSS and the records it wrote."""
    spool = tempfile.mkdtemp(prefix=f"bench-{library}-")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "SPOOLWATCH_"))}
    environ["TZ"] = "UTC"
    command = [str(python), __file__, "--child", library, "--input", kind]
    command += ["--calls", str(calls), "--spool", spool]
    if profile:
        command += ["--profile", profile]
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, env=environ)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            if process.returncode != 0:
                message = err.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{library} child failed ({process.returncode}): {message}")
            figures: dict = json.loads(out.read().decode().strip().splitlines()[-1])
        figures["peak_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
        figures["records"] = sum(
            path.read_bytes().count(b"\n") for path in Path(spool).glob("fs_spool.*")
        )
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return figures


def _summary(name: str, runs: list[dict]) -> str:
    rates = [run["calls_per_s"] for run in runs]
    peaks = [run["peak_mib"] for run in runs]
    own = [run["peak_mib"] - run["base_mib"] for run in runs]
    return (
        f"{name:<24} calls/s min {min(rates):>7,.0f} median {statistics.median(rates):>7,.0f}"
        f"  peak RSS median {statistics.median(peaks):>6.1f} MiB (max {max(peaks):.1f},"
        f" {statistics.median(own):.1f} above the caller's data)"
        f"  records {runs[0]['records']:,}"
    )


def _median(runs: list[dict], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls of each kind per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--input", nargs="*", default=["frame", "dict"], choices=["frame", "dict"])
    parser.add_argument("--venv", default=str(VENV))
    parser.add_argument("--no-datarobot", action="store_true", help="only the Reporter")
    parser.add_argument("--profile", help="cProfile the Reporter's loop (one run) into FILE")
    parser.add_argument("--child", choices=["spoolwatch", "datarobot"], help=argparse.SUPPRESS)
    parser.add_argument("--spool", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child, options.input[0], options.calls, options.spool, options.profile)
        return 0

    ours = Path(sys.executable)
    if options.profile:
        run_child(ours, "spoolwatch", options.input[0], options.calls, options.profile)
        print(f"wrote {options.profile}")
        return 0
    theirs, why = (
        (None, "--no-datarobot")
        if options.no_datarobot
        else ensure_datarobot_venv(Path(options.venv))
    )
    if theirs is None:
        print(f"DataRobot's library is not available ({why}); comparison skipped")
    print(f"pandas stack on both sides: {_stack(ours)}")
    print(
        f"{options.calls:,} x report_predictions_data ({ROWS} rows x {FEATURES} features, "
        f"association ids) + {options.calls:,} x report_deployment_stats per run, filesystem "
        f"JSON spool, {options.repeat} alternating runs"
    )
    plan = [("datarobot", theirs, "frame")] if theirs is not None else []
    plan += [("spoolwatch", ours, kind) for kind in options.input]
    runs: dict[tuple[str, str], list[dict]] = {(name, kind): [] for name, _, kind in plan}
    for round_ in range(options.repeat):
        # A/B alternation: every round runs each side once, in reversed order every other round
        for name, python, kind in plan if round_ % 2 == 0 else plan[::-1]:
            assert python is not None
            runs[name, kind].append(run_child(python, name, kind, options.calls, None))
    reference = runs.get(("datarobot", "frame"), [])
    if reference:
        print(_summary(f"datarobot-mlops {DATAROBOT_VERSION}", reference))
    for kind in options.input:
        print(_summary(f"spoolwatch ({kind})", runs["spoolwatch", kind]))
        if reference:
            mine = runs["spoolwatch", kind]
            ratio = _median(mine, "calls_per_s") / _median(reference, "calls_per_s")
            memory = _median(mine, "peak_mib") / _median(reference, "peak_mib")
            print(f"{'':<24} vs DataRobot: {ratio:.2f}x calls/s (medians), {memory:.2f}x peak RSS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
