"""The agent's measured figures the simulator runs on by default, and the easy-path set.

``measured.json`` (shipped beside this module) is written by ``bench/real_stream.py
--sim-params`` (``make bench`` refreshes it) from the real stream's SQLite runs: stats,
predictions with association ids and actuals over four deployments, drained by the real
agent into the real service. It holds:

* ``agent_records_per_second``: what one agent does per second of its own work, on a
  512 MB Lambda function: the bench host's records per second of the drain not spent in
  the service (drain time minus the service process's CPU time, a serial agent waiting for
  each answer), times 0.289 (512 MB of 1,769 MB, one vCPU);
* ``records_per_request``: records of the run over the agent's HTTP requests;
* ``request_seconds``: the service's CPU time per request, on 127.0.0.1 (no network);
* ``rows_per_record``: prediction rows over records (what a rows/s capacity counts);
* ``source``: the benchmark, its arguments, the date, the git commit and the machine.

The ``easy`` set is the figures the simulator used before: 3,000 records/s
(``bench/agent_throughput.py``'s easy path scaled the same way), 100 records and 50 ms a
request (both assumptions), 25 rows a record.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spoolwatch.errors import ConfigError

__all__ = ["MEASURED_FILE", "PARAMETER_SETS", "AgentFigures", "load_figures", "measured"]

MEASURED_FILE = Path(__file__).with_name("measured.json")

_NUMBERS = ("agent_records_per_second", "records_per_request", "request_seconds", "rows_per_record")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentFigures:
    """One agent's cost on a stream: its own work, its requests and their latency."""

    agent_records_per_second: float
    records_per_request: float
    request_seconds: float
    rows_per_record: float
    source: dict[str, Any] = field(default_factory=dict)


EASY = AgentFigures(
    agent_records_per_second=3000.0,
    records_per_request=100.0,
    request_seconds=0.050,
    rows_per_record=25.0,
    source={"benchmark": "bench/agent_throughput.py (easy path), request figures assumed"},
)


def load_figures(path: Path) -> AgentFigures:
    """The figures in the JSON file at ``path``; :class:`ConfigError` naming the file and
    the field when it is missing, unreadable or malformed."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the simulator's parameters: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a JSON object of the simulator's parameters")
    numbers: dict[str, float] = {}
    for name in _NUMBERS:
        value = document.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: {name} must be a number, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{path}: {name} must be a finite number > 0, got {value!r}")
        numbers[name] = float(value)
    source = document.get("source", {})
    if not isinstance(source, dict):
        raise ConfigError(f"{path}: source must be an object, got {source!r}")
    return AgentFigures(**numbers, source=source)


@functools.cache
def measured() -> AgentFigures:
    """The shipped ``measured.json`` (read once)."""
    return load_figures(MEASURED_FILE)


#: The named parameter sets ``spoolwatch simulate --params`` chooses from.
PARAMETER_SETS = ("measured", "easy")
