"""Run every benchmark and write ``docs/performance.md`` with their figures.

Each benchmark is a script in this folder that prints its own figures; this runs them one
after another (never in parallel: they would measure each other), records what they
printed, and writes the report with the machine it ran on and the command of each.
Usage: ``python bench/run_all.py [--only NAME ...] [--output docs/performance.md]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (name, script, arguments, what it measures)
BENCHMARKS: list[tuple[str, str, list[str], str]] = [
    (
        "real-stream",
        "real_stream.py",
        [],
        "the tour's traffic (stats, predictions with association ids, actuals, 4 deployments) "
        "through the agent into spoolwatch serve, next to the easy path, records/s",
    ),
    (
        "concurrent-clients",
        "concurrent_clients.py",
        [],
        "40 concurrent ingest clients of small bodies plus readers: requests/s, p50/p99",
    ),
    (
        "assoc-ids",
        "assoc_ids.py",
        [],
        "prediction rows/s with association ids against the same rows without",
    ),
    (
        "spools",
        "spool_throughput.py",
        ["--features", "10"],
        "records/s written and read+acked per spool, 25 rows x 10 features",
    ),
    (
        "spools-light",
        "spool_throughput.py",
        ["--features", "3"],
        "records/s written and read+acked per spool, 25 rows x 3 features",
    ),
    ("records", "record_validation.py", [], "microseconds per record validation, by data type"),
    ("agent", "agent_throughput.py", [], "records/s from a spool into an HTTP destination"),
    ("ingest", "ingest.py", [], "prediction rows/s folded into the service's aggregates"),
    ("drift", "drift.py", [], "drift statistics on 100k reference and 1M current rows"),
    (
        "drift-floor",
        "drift_floor.py",
        [],
        "spoolwatch drift on Parquet (100k x 5M rows) next to pandas + numpy: time, peak memory",
    ),
    ("simulator", "simulate.py", [], "scaling policies compared in the simulator"),
]


@dataclass
class Outcome:
    name: str
    command: str
    description: str
    seconds: float
    returncode: int
    output: str


def _machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1_048_576:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores{memory}",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python: {platform.python_version()} ({sys.executable})",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def _run(name: str, script: str, args: list[str], description: str) -> Outcome | None:
    path = ROOT / "bench" / script
    if not path.exists():
        return None
    command = [sys.executable, str(path.relative_to(ROOT)), *args]
    shown = " ".join(["python", *command[1:]])
    print(f"== {name}: {shown}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=1800
    )
    seconds = time.perf_counter() - started
    output = completed.stdout.strip()
    if completed.returncode != 0:
        output += "\n" + completed.stderr.strip()[-3000:]
    print(output, flush=True)
    return Outcome(name, shown, description, seconds, completed.returncode, output)


def _report(outcomes: list[Outcome]) -> str:
    lines = ["# Performance", "", "Written by `make bench` (`python bench/run_all.py`).", ""]
    lines += ["## Machine", "", *_machine(), ""]
    for outcome in outcomes:
        status = "" if outcome.returncode == 0 else f" — **failed (exit {outcome.returncode})**"
        lines += [f"## {outcome.name}: {outcome.description}{status}", ""]
        lines += [f"Command: `{outcome.command}` ({outcome.seconds:.0f} s)", ""]
        lines += ["```", outcome.output, "```", ""]
        for image in sorted((ROOT / "docs" / "img").glob(f"{outcome.name}*.png")):
            lines += [f"![{image.stem}](img/{image.name})", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these benchmarks")
    parser.add_argument("--output", default=str(ROOT / "docs" / "performance.md"))
    options = parser.parse_args()
    outcomes = []
    for name, script, args, description in BENCHMARKS:
        if options.only and name not in options.only:
            continue
        outcome = _run(name, script, args, description)
        if outcome is not None:
            outcomes.append(outcome)
    Path(options.output).parent.mkdir(parents=True, exist_ok=True)
    Path(options.output).write_text(_report(outcomes), encoding="utf-8")
    print(f"wrote {options.output}")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
