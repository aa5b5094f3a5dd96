"""The simulator's agent figures from real-stream drains (``bench/real_stream.py --sim-params``).

What each figure means and how the simulator uses it: :mod:`spoolwatch.sim.measured`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

#: One vCPU of Lambda per 1,769 MB: what a 512 MB agent gets of a core.
LAMBDA_VCPU = 512 / 1769


class Drain(Protocol):
    """The figures of one timed drain that the parameters are made of."""

    stream: str
    backend: str
    records: int
    rows: int
    requests: int
    drain_seconds: float
    service_cpu: float

    @property
    def rate(self) -> float: ...


def _cpu() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the platform's machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def sim_params(drains: Sequence[Drain], argv: list[str]) -> dict[str, Any]:
    """The simulator's agent figures from the median real run (by records/s) of ``drains``:
    the agent's own work is the drain less the service's CPU time, scaled to a 512 MB
    Lambda function's 0.289 vCPU (:mod:`spoolwatch.sim.measured`)."""
    real = sorted((d for d in drains if d.stream == "real"), key=lambda d: d.rate)
    median = real[len(real) // 2]
    own = max(median.drain_seconds - median.service_cpu, 1e-6)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "agent_records_per_second": round(median.records / own * LAMBDA_VCPU, 1),
        "records_per_request": round(median.records / median.requests, 2),
        "request_seconds": round(median.service_cpu / median.requests, 5),
        "rows_per_record": round(median.rows / median.records, 2),
        "source": {
            "benchmark": "bench/real_stream.py " + " ".join(argv),
            "backend": median.backend,
            "runs": len(real),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": commit or "unknown",
            "machine": f"{_cpu()}, {os.cpu_count()} cores, "
            f"{platform.system()} {platform.release()}",
            "bench_host": {
                "records": median.records,
                "requests": median.requests,
                "drain_seconds": round(median.drain_seconds, 4),
                "service_cpu_seconds": round(median.service_cpu, 4),
                "agent_records_per_second_full_core": round(median.records / own, 1),
            },
        },
    }


def write_sim_params(path: Path, drains: Sequence[Drain], argv: list[str]) -> None:
    """Write :func:`sim_params` of ``drains`` to ``path`` and say so."""
    figures = sim_params(drains, argv)
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(
        f"\nsimulator's agent figures ({figures['source']['backend']}, median real run) "
        f"written to {path}: {figures['agent_records_per_second']:,.0f} records/s per "
        f"512 MB Lambda agent, {figures['records_per_request']:.1f} records and "
        f"{figures['request_seconds'] * 1000:.1f} ms a request, "
        f"{figures['rows_per_record']:.1f} rows a record"
    )
