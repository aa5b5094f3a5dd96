"""Tables and JSON documents of simulation results."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from spoolwatch.sim.run import SimResult
from spoolwatch.sim.scenarios import SCENARIOS
from spoolwatch.sim.world import SimParams

__all__ = ["COST_COLUMNS", "HEADERS", "TIME_COLUMNS", "document", "rows", "text_table"]

HEADERS = [
    "policy",
    "drained s",
    "age p50 s",
    "p95 s",
    "p99 s",
    "max s",
    "peak agents",
    "agent-s",
    "compute $",
    "Lambda req $",
    "SQS $",
    "DynamoDB $",
    "total $",
    "dups",
    "lost",
    "known",
    "over-rec",
]
#: Column indexes of the two halves of the table. ``known``: records deleted unsent because
#: the destination said it had them ("-" where the agents do not ask).
TIME_COLUMNS = [0, 1, 2, 3, 4, 5, 6, 7]
COST_COLUMNS = [0, 8, 9, 10, 11, 12, 13, 14, 15, 16]


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _money(value: float) -> str:
    return f"{value:.4f}"


def rows(results: Sequence[SimResult]) -> list[list[str]]:
    """One row of strings per result, in :data:`HEADERS` order."""
    table = []
    for r in results:
        drained = _seconds(r.drained_at) if r.drained_at is not None else "not drained"
        table.append(
            [
                r.policy,
                drained,
                _seconds(r.age_p50),
                _seconds(r.age_p95),
                _seconds(r.age_p99),
                _seconds(r.age_max),
                str(r.peak_agents),
                f"{r.agent_seconds:,.0f}",
                _money(r.cost["compute"]),
                _money(r.cost["requests"]),
                _money(r.cost["sqs"]),
                _money(r.cost["dynamodb"]),
                _money(r.cost["total"]),
                f"{r.duplicates:,}",
                f"{r.lost:,}",
                "-" if r.known_skipped is None else f"{r.known_skipped:,}",
                f"{r.over_recruited:,}",
            ]
        )
    return table


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        cell.rjust(width) if i else cell.ljust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def text_table(results: Sequence[SimResult], columns: Sequence[int] | None = None) -> str:
    """A plain fixed-width table of ``columns`` (all by default), for benchmark output."""
    picked = list(range(len(HEADERS))) if columns is None else list(columns)
    headers = [HEADERS[i] for i in picked]
    body = [[row[i] for i in picked] for row in rows(results)]
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    lines = [_line(headers, widths), "  ".join("-" * w for w in widths)]
    lines += [_line(row, widths) for row in body]
    return "\n".join(lines)


def document(
    results: Sequence[SimResult], *, scenario: str, seed: int, params: SimParams
) -> dict[str, Any]:
    """One JSON-ready document: the scenario, the parameters and every result."""
    spec = SCENARIOS[scenario]
    settings = dataclasses.asdict(params)
    return {
        "scenario": {
            "name": spec.name,
            "summary": spec.summary,
            "horizon_seconds": spec.horizon,
            "outages": [list(o) for o in spec.outages],
            "crashes": list(spec.crashes),
        },
        "seed": seed,
        "params": settings,
        "results": [r.as_dict() for r in results],
    }
