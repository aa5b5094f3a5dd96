"""The dry-run sink: the HTTP sink's conversion and merging, with nothing sent."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from spoolwatch.records import Record
from spoolwatch.sinks.base import SendResult
from spoolwatch.sinks.http.sink import HttpSink

__all__ = ["DryRunSink"]

logger = logging.getLogger(__name__)


class DryRunSink(HttpSink):
    """Converts and merges exactly like :class:`HttpSink`, sends nothing, accepts all."""

    kind = "dry-run"

    def send(self, records: Sequence[Record]) -> SendResult:
        result = SendResult()
        requests = self.requests(records, result)
        for request in requests:
            logger.debug(
                "dry run: would POST %s (%d bytes, %d records)",
                request.path,
                len(request.body),
                len(request.indexes),
            )
            result.accepted.extend(request.indexes)
            result.requests += 1
            result.rows += request.rows
        return result

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        return set()

    def heartbeat(self, status: dict[str, Any]) -> bool:
        return False
