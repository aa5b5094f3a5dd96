# ruff: noqa: F811 - the fixture imported from test_agent_loop is redefined as a parameter
"""Redelivered records over MemorySpool: the destination is asked once per read which it
already has; those are acked without a send and counted as duplicates."""

from __future__ import annotations

from collections.abc import Sequence

from spoolwatch.agent import Agent
from spoolwatch.records import Record
from spoolwatch.spools.memory import MemorySpool
from tests.unit.test_agent_loop import (  # noqa: F401 - fixture
    ScriptedSink,
    make_config,
    spool_name,
    stats_record,
)


class KnowingSink(ScriptedSink):
    """A scripted sink whose destination already has the ``known`` ids (or cannot say)."""

    def __init__(self, known: Sequence[str] = (), broken: bool = False) -> None:
        super().__init__()
        self.known = set(known)
        self.broken = broken
        self.queries: list[list[str]] = []

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        with self.lock:
            self.queries.append(list(ids))
        if self.broken:
            raise RuntimeError("this sink breaks its promise")
        return self.known & set(ids)


def _redeliver(name: str, records: list[Record]) -> None:
    """Write ``records`` and hand them out once without acking them (an agent that died
    between sending and acking): they come back marked redelivered."""
    spool = MemorySpool(name)
    spool.write(records)
    taken = spool.read(len(records))
    assert len(taken) == len(records) and not any(d.redelivered for d in taken)
    spool.close()


def test_redelivered_records_the_destination_has_are_acked_without_a_send(
    spool_name: str,
) -> None:
    records = [stats_record(n=i + 1) for i in range(4)]
    _redeliver(spool_name, records)
    known = [str(records[0].id), str(records[2].id)]
    sink = KnowingSink(known)
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.queries == [[str(r.id) for r in records]]
    assert sink.accepted == [records[1].id, records[3].id]
    assert result.duplicates == 2 and result.records_sent == 2
    spool = MemorySpool(spool_name)
    assert spool.backlog().total == 0 and list(spool.quarantined()) == []


def test_fresh_records_cost_no_question(spool_name: str) -> None:
    records = [stats_record(n=i + 1) for i in range(5)]
    MemorySpool(spool_name).write(records)
    sink = KnowingSink([str(r.id) for r in records])
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.queries == []
    assert sink.accepted == [r.id for r in records] and result.duplicates == 0


def test_only_the_redelivered_records_of_a_read_are_asked_about(spool_name: str) -> None:
    old, new = stats_record(n=1), stats_record(n=2)
    _redeliver(spool_name, [old])
    MemorySpool(spool_name).write([new])
    sink = KnowingSink([str(old.id), str(new.id)])
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.queries == [[str(old.id)]]
    assert sink.accepted == [new.id] and result.duplicates == 1


def test_redelivered_records_the_destination_lacks_are_sent(spool_name: str) -> None:
    records = [stats_record(n=i + 1) for i in range(3)]
    _redeliver(spool_name, records)
    sink = KnowingSink()
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert len(sink.queries) == 1
    assert sink.accepted == [r.id for r in records] and result.duplicates == 0
    assert MemorySpool(spool_name).backlog().total == 0


def test_records_dropped_by_the_local_memory_are_not_asked_about(spool_name: str) -> None:
    record = stats_record()
    MemorySpool(spool_name).write([record])
    sink = KnowingSink()
    agent = Agent(make_config(spool_name), sink)
    agent.run(until_empty=True)
    _redeliver(spool_name, [record])
    result = agent.run(until_empty=True)
    assert sink.queries == [] and sink.accepted == [record.id]
    assert result.duplicates == 1


def test_known_records_are_remembered_so_a_later_copy_costs_no_question(
    spool_name: str,
) -> None:
    record = stats_record()
    _redeliver(spool_name, [record])
    sink = KnowingSink([str(record.id)])
    agent = Agent(make_config(spool_name), sink)
    first = agent.run(until_empty=True)
    MemorySpool(spool_name).write([record])  # the producer wrote it twice
    second = agent.run(until_empty=True)
    assert len(sink.queries) == 1 and sink.accepted == []
    assert first.duplicates == 1 and second.duplicates == 1


def test_a_sink_that_raises_when_asked_does_not_stop_the_records(spool_name: str) -> None:
    records = [stats_record(n=i + 1) for i in range(2)]
    _redeliver(spool_name, records)
    sink = KnowingSink([str(r.id) for r in records], broken=True)
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.accepted == [r.id for r in records] and result.duplicates == 0
    assert result.exit_code == 0 and MemorySpool(spool_name).backlog().total == 0


def test_undecodable_and_invalid_redelivered_records_are_quarantined_not_asked_about(
    spool_name: str,
) -> None:
    spool = MemorySpool(spool_name)
    spool.write_raw(b"garbage")
    spool.write([stats_record(deployment=None)])
    spool.read(10)
    spool.close()
    sink = KnowingSink()
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.queries == [] and result.quarantined == 2
