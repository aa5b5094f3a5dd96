"""The store sink against a fake store implementing the RecordIngest protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from spoolwatch.errors import DestinationUnavailable
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.store import RecordIngest, StoreSink


class FakeStore:
    def __init__(self, refuse: Sequence[str] = (), down: bool = False) -> None:
        self.refuse = set(refuse)
        self.down = down
        self.ids: set[str] = set()
        self.rows = 0
        self.beats: list[dict[str, Any]] = []

    def ingest(self, records: Sequence[Record]) -> list[str | None]:
        if self.down:
            raise DestinationUnavailable("database is locked")
        outcomes: list[str | None] = []
        for record in records:
            if record.id in self.refuse:
                outcomes.append("unknown deployment")
            else:
                if record.id not in self.ids:
                    self.rows += record.row_count()
                self.ids.add(str(record.id))
                outcomes.append(None)
        return outcomes

    def heartbeat(self, status: dict[str, Any]) -> None:
        self.beats.append(status)


def _predictions(rows: int) -> Record:
    return Record.new(
        DataType.PREDICTIONS_DATA,
        "d1",
        {"timestamp": "t", "modelId": "m", "predictions": [1.0] * rows},
    )


def test_fake_store_satisfies_the_protocol() -> None:
    assert isinstance(FakeStore(), RecordIngest)


def test_stored_records_are_accepted_and_refused_ones_rejected_with_the_reason() -> None:
    records = [_predictions(3), _predictions(2)]
    store = FakeStore(refuse=[str(records[1].id)])
    result = StoreSink(store).send(records)
    assert result.accepted == [0] and result.rows == 3
    assert "unknown deployment" in result.rejected[1].reason


def test_repeats_are_accepted_without_double_counting() -> None:
    store = FakeStore()
    record = _predictions(4)
    sink = StoreSink(store)
    sink.send([record])
    assert sink.send([record]).accepted == [0] and store.rows == 4


def test_unavailable_store_leaves_everything_unsettled() -> None:
    result = StoreSink(FakeStore(down=True)).send([_predictions(1)])
    assert result.done() == set() and result.failure is not None
    assert result.failure_kind == "connection"


def test_store_answering_the_wrong_number_of_outcomes_is_a_bug() -> None:
    class Broken(FakeStore):
        def ingest(self, records: Sequence[Record]) -> list[str | None]:
            return []

    with pytest.raises(RuntimeError, match="0 outcomes for 1 records"):
        StoreSink(Broken()).send([_predictions(1)])


def test_object_without_ingest_is_refused() -> None:
    with pytest.raises(TypeError, match="no ingest"):
        StoreSink(object())  # type: ignore[arg-type]


def test_heartbeat_goes_to_the_store_when_it_takes_them() -> None:
    store = FakeStore()
    assert StoreSink(store).heartbeat({"agentId": "a"}) is True
    assert store.beats == [{"agentId": "a"}]
