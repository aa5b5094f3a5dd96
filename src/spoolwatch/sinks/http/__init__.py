"""The HTTP sink: DataRobot's ingestion REST API, spoken to our service or to DataRobot.

:class:`HttpSink` (:mod:`~spoolwatch.sinks.http.sink`, the rules of sending) posts records;
:class:`DryRunSink` (:mod:`~spoolwatch.sinks.http.dry_run`) converts and merges the same
way and sends nothing. Beside them: the questions besides sending
(:mod:`~spoolwatch.sinks.http.questions`), the polling of DataRobot's actuals jobs
(:mod:`~spoolwatch.sinks.http.actuals`), and the URL and request-id conventions and the
reading of answers (:mod:`~spoolwatch.sinks.http.answers`).
"""

from __future__ import annotations

from spoolwatch.sinks.http.answers import (
    HEARTBEAT_PATH,
    KNOWN_RECORDS_PATH,
    PROBE_RECORD_ID,
    api_base,
    request_id_prefix,
)
from spoolwatch.sinks.http.dry_run import DryRunSink
from spoolwatch.sinks.http.sink import MAX_RECORDS_PER_REQUEST, HttpSink

__all__ = [
    "HEARTBEAT_PATH",
    "KNOWN_RECORDS_PATH",
    "MAX_RECORDS_PER_REQUEST",
    "PROBE_RECORD_ID",
    "DryRunSink",
    "HttpSink",
    "api_base",
    "request_id_prefix",
]
