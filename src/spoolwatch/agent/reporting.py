"""What a running agent tells others about itself: the stats file and the heartbeat's status.

Both are built from a :class:`~spoolwatch.agent.stats.StatsSnapshot`; the agent loop decides
when (every ``stats_interval_seconds``, every ``heartbeat_interval_seconds``, and once at the
end) and where they go (the sink's heartbeat, ``stats_path``).
"""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from spoolwatch.agent.stats import StatsSnapshot
from spoolwatch.version import __version__

__all__ = ["heartbeat_status", "write_stats_file"]

logger = logging.getLogger(__name__)


def write_stats_file(path: Path, agent_id: str, snapshot: StatsSnapshot) -> None:
    """Replace the stats file at ``path`` with ``snapshot`` (JSON); a failure is logged."""
    data = {
        "agentId": agent_id,
        "elapsed": snapshot.elapsed,
        "recordsPerSecond": snapshot.records_per_second,
        "rowsPerSecond": snapshot.rows_per_second,
        "channels": snapshot.channels,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        tmp.replace(path)
    except OSError as exc:
        logger.warning("cannot write agent stats to %s: %s", path, exc)


def heartbeat_status(
    snapshot: StatsSnapshot,
    *,
    agent_id: str,
    elapsed: float,
    state: str,
    stopped_by: str | None,
) -> dict[str, Any]:
    """The body of a heartbeat: who the agent is, its rates, counts, backlogs and errors."""
    errors: Counter[str] = Counter()
    for channel in snapshot.channels.values():
        errors.update(channel["failures"])
    status = {
        "agentId": agent_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "version": __version__,
        "uptimeSeconds": round(elapsed, 3),
        "recordsPerSecond": round(snapshot.records_per_second, 3),
        "rowsPerSecond": round(snapshot.rows_per_second, 3),
        "sent": snapshot.total("sent"),
        "quarantined": snapshot.total("quarantined"),
        "backlog": {name: c["backlog"] for name, c in snapshot.channels.items()},
        "errors": dict(errors),
        "state": state,
    }
    if stopped_by is not None:
        status["stoppedBy"] = stopped_by
    return status
