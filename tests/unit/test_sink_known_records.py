"""Sinks asked which redelivered records the destination already has: HTTP (mock transport),
dry run, store sink, and the base class's default."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import httpx
import orjson
import pytest

from spoolwatch.errors import DestinationUnavailable
from spoolwatch.records import Record
from spoolwatch.sinks.base import SendResult, Sink
from spoolwatch.sinks.config import TargetConfig, TargetKind
from spoolwatch.sinks.http import KNOWN_RECORDS_PATH, DryRunSink, HttpSink
from spoolwatch.sinks.secrets import Secret
from spoolwatch.sinks.store import StoreSink

TOKEN = "known-records-token-1"
URL = "https://monitor.example.com/api/v2/" + KNOWN_RECORDS_PATH


def _sink(
    handler: Callable[[httpx.Request], httpx.Response],
    kind: TargetKind = "spoolwatch",
    sink_class: type[HttpSink] = HttpSink,
) -> HttpSink:
    target = TargetConfig(url="https://monitor.example.com", api_token=Secret(TOKEN), kind=kind)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return sink_class(target, client=client)


def _answering(known: set[str], seen: list[httpx.Request]) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        asked = orjson.loads(request.content)["recordIds"]
        return httpx.Response(200, json={"known": [r for r in asked if r in known]})

    return handler


def test_spoolwatch_target_is_asked_once_with_the_token() -> None:
    seen: list[httpx.Request] = []
    sink = _sink(_answering({"a", "c"}, seen))
    assert sink.known_record_ids(["a", "b", "c", "a"]) == {"a", "c"}
    (request,) = seen
    assert request.method == "POST" and str(request.url) == URL
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == {"recordIds": ["a", "b", "c"]}


def test_questions_carry_at_most_a_thousand_ids() -> None:
    seen: list[httpx.Request] = []
    ids = [f"id-{i}" for i in range(2500)]
    sink = _sink(_answering({"id-0", "id-1500", "id-2499"}, seen))
    assert sink.known_record_ids(ids) == {"id-0", "id-1500", "id-2499"}
    sizes = [len(orjson.loads(r.content)["recordIds"]) for r in seen]
    assert sizes == [1000, 1000, 500]


def test_datarobot_target_is_never_asked() -> None:
    seen: list[httpx.Request] = []
    sink = _sink(_answering({"a"}, seen), kind="datarobot")
    assert sink.known_record_ids(["a"]) == set()
    assert seen == []


def test_dry_run_sink_never_asks() -> None:
    seen: list[httpx.Request] = []
    sink = _sink(_answering({"a"}, seen), sink_class=DryRunSink)
    assert sink.known_record_ids(["a"]) == set()
    assert seen == []


def test_nothing_redelivered_asks_nothing() -> None:
    seen: list[httpx.Request] = []
    assert _sink(_answering({"a"}, seen)).known_record_ids([]) == set()
    assert seen == []


def _raises(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    "handler",
    [
        _raises(httpx.ConnectError("refused")),
        _raises(httpx.ReadTimeout("slow")),
        lambda request: httpx.Response(404, json={"detail": "Not Found"}),
        lambda request: httpx.Response(503),
        lambda request: httpx.Response(401),
        lambda request: httpx.Response(302, headers={"Location": "https://elsewhere/"}),
        lambda request: httpx.Response(202, json={"known": ["a"]}),
        lambda request: httpx.Response(200, content=b"<html>not json</html>"),
        lambda request: httpx.Response(200, json=["a"]),
        lambda request: httpx.Response(200, json={"known": "a"}),
        lambda request: httpx.Response(200, json={}),
    ],
    ids=[
        "connection",
        "timeout",
        "older-service-404",
        "503",
        "401",
        "redirect",
        "202",
        "not-json",
        "list",
        "known-not-a-list",
        "no-known",
    ],
)
def test_any_failure_to_answer_means_none_known(
    handler: Callable[[httpx.Request], httpx.Response],
) -> None:
    assert _sink(handler).known_record_ids(["a", "b"]) == set()


def test_a_failed_chunk_makes_the_whole_answer_empty() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 2:
            return httpx.Response(500)
        return httpx.Response(200, json={"known": orjson.loads(request.content)["recordIds"]})

    assert _sink(handler).known_record_ids([f"id-{i}" for i in range(1500)]) == set()


def test_ids_that_were_not_asked_are_never_known() -> None:
    sink = _sink(lambda request: httpx.Response(200, json={"known": ["a", "x", 3, None]}))
    assert sink.known_record_ids(["a", "b"]) == {"a"}


def test_failure_is_logged_at_info_once_then_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    sink = _sink(lambda request: httpx.Response(404))
    with caplog.at_level(logging.DEBUG, logger="spoolwatch.sinks.http"):
        for _ in range(3):
            assert sink.known_record_ids(["a"]) == set()
    levels = [r.levelno for r in caplog.records if KNOWN_RECORDS_PATH in r.getMessage()]
    assert levels == [logging.INFO, logging.DEBUG, logging.DEBUG]
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------- other sinks


class _PlainSink(Sink):
    def send(self, records: Sequence[Record]) -> SendResult:
        return SendResult(accepted=list(range(len(records))))


def test_base_sink_knows_nothing() -> None:
    assert _PlainSink().known_record_ids(["a"]) == set()


class _Store:
    def __init__(self, known: set[str] | Exception) -> None:
        self.known = known
        self.asked: list[list[str]] = []

    def ingest(self, records: Sequence[Record]) -> list[str | None]:
        return [None] * len(records)

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        self.asked.append(list(ids))
        if isinstance(self.known, Exception):
            raise self.known
        return self.known


class _OldStore:
    def ingest(self, records: Sequence[Record]) -> list[str | None]:
        return [None] * len(records)


def test_store_sink_asks_its_store_and_keeps_only_the_ids_asked() -> None:
    store = _Store({"a", "z"})
    assert StoreSink(store).known_record_ids(["a", "b"]) == {"a"}
    assert store.asked == [["a", "b"]]


def test_store_sink_whose_store_is_unavailable_knows_nothing() -> None:
    store = _Store(DestinationUnavailable("locked"))
    assert StoreSink(store).known_record_ids(["a"]) == set()


def test_store_sink_over_a_store_without_the_question_knows_nothing() -> None:
    assert StoreSink(_OldStore()).known_record_ids(["a"]) == set()
