"""Run every benchmark and write ``docs/performance.md`` with their figures.

Each benchmark is a script in this folder that prints its own figures; this runs them one
after another (never in parallel: they would measure each other), records what they
printed, and writes the report with the machine it ran on and the command of each.
Usage: ``python bench/run_all.py [--only NAME ...] [--output docs/performance.md]``.

With ``--only`` the report is merged: the sections of the benchmarks that ran are replaced,
every other section of the existing report is kept as it was, and each section names the
run (date and machine) its figures come from.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
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
        ["--sim-params", "src/spoolwatch/sim/measured.json"],
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
        "postgres-workers",
        "concurrent_clients.py",
        ["--only", "postgresql", "--workers", "1", "2", "--repeat", "2", "--seconds", "8"],
        "the 40 concurrent clients against one and two service processes on one PostgreSQL",
    ),
    (
        "assoc-ids",
        "assoc_ids.py",
        [],
        "prediction rows/s with association ids against the same rows without",
    ),
    (
        "accuracy-reads",
        "accuracy_reads.py",
        ["--repeat", "7"],
        "accuracy, deployment list and detail with 200k and 2M joined rows: do they stay flat?",
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
    (
        "reporter-vs-datarobot",
        "reporter_vs_datarobot.py",
        [],
        "Reporter calls/s and peak memory against datarobot-mlops 11.2.62 (its own throwaway "
        "venv; skipped with the reason when it cannot be made), same calls, filesystem spool",
    ),
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


def _run_line(machine: list[str]) -> str:
    """``Run: <date>, <CPU>`` from the machine lines of a report."""
    fields = dict(line[2:].split(": ", 1) for line in machine if ": " in line)
    return f"Run: {fields.get('Date', 'unknown date')}, {fields.get('CPU', 'unknown machine')}"


def _section(outcome: Outcome, machine: list[str]) -> str:
    status = "" if outcome.returncode == 0 else f" — **failed (exit {outcome.returncode})**"
    lines = [f"## {outcome.name}: {outcome.description}{status}", ""]
    lines += [_run_line(machine), ""]
    lines += [f"Command: `{outcome.command}` ({outcome.seconds:.0f} s)", ""]
    lines += ["```", outcome.output, "```", ""]
    for image in sorted((ROOT / "docs" / "img").glob(f"{outcome.name}*.png")):
        lines += [f"![{image.stem}](img/{image.name})", ""]
    return "\n".join(lines)


def _sections(report: str) -> tuple[list[str], dict[str, str]]:
    """The machine lines and the ``## name: ...`` sections (by name, in order) of a report;
    a kept section without a run line gets the one of the report's machine."""
    parts = re.split(r"^(?=## )", report, flags=re.MULTILINE)
    machine: list[str] = []
    sections: dict[str, str] = {}
    for part in parts[1:]:
        heading = part.splitlines()[0][3:]
        if heading.startswith("Machine"):
            machine = [line for line in part.splitlines() if line.startswith("- ")]
            continue
        name = heading.split(":", 1)[0].strip()
        if "\nRun: " not in part:
            head, _, body = part.partition("\n\n")
            part = f"{head}\n\n{_run_line(machine)}\n\n{body}"
        sections[name] = part.rstrip() + "\n"
    return machine, sections


def _report(outcomes: list[Outcome], previous: str | None = None) -> str:
    """The report of ``outcomes``; with ``previous`` (a report), its other sections kept."""
    machine = _machine()
    fresh = {outcome.name: _section(outcome, machine) for outcome in outcomes}
    kept = _sections(previous)[1] if previous else {}
    order = [name for name, *_ in BENCHMARKS] + [name for name in kept if name not in fresh]
    lines = ["# Performance", "", "Written by `make bench` (`python bench/run_all.py`)."]
    if kept:
        lines += ["Sections come from different runs; each names its own."]
    lines += ["", "## Machine (latest run)", "", *machine, ""]
    seen: set[str] = set()
    for name in order:
        if name in seen:
            continue
        seen.add(name)
        section = fresh.get(name) or kept.get(name)
        if section:
            lines += [section.rstrip(), ""]
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
    output = Path(options.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    previous = output.read_text(encoding="utf-8") if options.only and output.exists() else None
    output.write_text(_report(outcomes, previous), encoding="utf-8")
    print(f"wrote {options.output}")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
