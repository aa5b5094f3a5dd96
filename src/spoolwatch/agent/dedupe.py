"""A bounded memory of record ids already delivered, to drop redeliveries cheaply."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

__all__ = ["SeenIds"]


class SeenIds:
    """Ids remembered for ``ttl`` seconds, at most ``max_ids`` of them (oldest dropped first).

    Forgetting is safe: a forgotten id that comes back is simply sent again, and the
    destination drops it by id. Thread-safe.
    """

    def __init__(
        self,
        max_ids: int = 100_000,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_ids
        self._ttl = ttl
        self._clock = clock
        self._ids: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, record_id: object) -> bool:
        if not isinstance(record_id, str) or self._max == 0:
            return False
        with self._lock:
            stamp = self._ids.get(record_id)
            if stamp is None:
                return False
            if self._clock() - stamp > self._ttl:
                del self._ids[record_id]
                return False
            return True

    def add_all(self, record_ids: Iterable[str | None]) -> None:
        """Remember these ids (``None`` is ignored)."""
        if self._max == 0:
            return
        now = self._clock()
        with self._lock:
            for record_id in record_ids:
                if record_id is None:
                    continue
                self._ids[record_id] = now
                self._ids.move_to_end(record_id)
            while len(self._ids) > self._max:
                self._ids.popitem(last=False)
            while self._ids:
                oldest_id, stamp = next(iter(self._ids.items()))
                if now - stamp <= self._ttl:
                    break
                del self._ids[oldest_id]
