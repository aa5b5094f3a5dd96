"""``bench/real_stream.py --sim-params``: the simulator's agent figures from real-stream
drains, refreshed by ``make bench`` into the file the simulator reads by default."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from spoolwatch.sim.measured import MEASURED_FILE, load_figures

ROOT = Path(__file__).resolve().parents[2]


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class _Drain:
    stream: str
    backend: str
    records: int
    rows: int
    requests: int
    drain_seconds: float
    service_cpu: float

    @property
    def rate(self) -> float:
        return self.records / self.drain_seconds


def test_the_figures_come_from_the_median_real_run(tmp_path: Path) -> None:
    drains = [
        _Drain("real", "sqlite", 2000, 20_000, 20, 1.0, 0.5),
        _Drain("easy", "sqlite", 2000, 50_000, 10, 0.1, 0.05),
        _Drain("real", "sqlite", 2000, 20_000, 20, 0.8, 0.4),
        _Drain("real", "sqlite", 2000, 20_000, 20, 2.0, 1.0),
    ]
    path = tmp_path / "measured.json"
    _bench("sim_params").write_sim_params(path, drains, ["--only", "sqlite"])
    figures = load_figures(path)
    # the median real run: 1.0 s drain, of which 0.5 s in the service
    assert figures.agent_records_per_second == pytest.approx(2000 / 0.5 * 512 / 1769, abs=0.1)
    assert figures.records_per_request == 100.0
    assert figures.request_seconds == pytest.approx(0.025)
    assert figures.rows_per_record == 10.0
    source = json.loads(path.read_text(encoding="utf-8"))["source"]
    assert source["benchmark"] == "bench/real_stream.py --only sqlite"
    assert {"date", "commit", "machine", "backend"} <= set(source)


def test_make_bench_refreshes_the_file_the_simulator_reads() -> None:
    benchmarks = {name: args for name, _, args, _ in _bench("run_all").BENCHMARKS}
    args = benchmarks["real-stream"]
    target = ROOT / args[args.index("--sim-params") + 1]
    assert target == MEASURED_FILE
