"""``bench/run_all.py --only``: the report is merged, not overwritten."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module
    spec.loader.exec_module(module)
    return module


PREVIOUS = """# Performance

## Machine

- CPU: Old CPU, 2 cores
- Date: 2026-01-01 00:00 UTC

## real-stream: old description

Command: `python bench/real_stream.py` (30 s)

```
real 100 records/s
```

## drift: drift statistics

Command: `python bench/drift.py` (10 s)

```
drift 1.0 s
### not a heading of the report
```

## hand-written: a section written by hand

Run: 2026-02-02 00:00 UTC, Hand

figures
"""


def test_only_replaces_the_sections_that_ran_and_keeps_the_others_with_their_run() -> None:
    run_all = _run_all()
    fresh = run_all.Outcome(
        "real-stream", "python bench/real_stream.py", "new description", 31.0, 0, "real 200"
    )
    report = run_all._report([fresh], PREVIOUS)
    assert "real 200" in report and "real 100 records/s" not in report
    drift = report[report.index("## drift:") :]
    assert "drift 1.0 s" in drift and "### not a heading" in drift
    assert "Run: 2026-01-01 00:00 UTC, Old CPU, 2 cores" in drift  # its own run, not today's
    assert "Run: 2026-02-02 00:00 UTC, Hand" in report  # a section run_all does not know
    real = report[report.index("## real-stream:") : report.index("## drift:")]
    assert "Run: 2026-01-01" not in real and real.count("Run: ") == 1
    # The order of BENCHMARKS, then sections it does not know.
    assert report.index("## real-stream:") < report.index("## drift:")
    assert report.index("## drift:") < report.index("## hand-written:")


def test_a_full_run_writes_only_what_ran() -> None:
    run_all = _run_all()
    fresh = run_all.Outcome("drift", "python bench/drift.py", "drift", 1.0, 0, "drift 2.0 s")
    report = run_all._report([fresh])
    assert "drift 2.0 s" in report and "real-stream" not in report
