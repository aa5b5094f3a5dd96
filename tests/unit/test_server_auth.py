"""The token checker: scopes are looked up once and cached, valid or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from spoolwatch.server import auth
from spoolwatch.store.base import Store, open_store
from spoolwatch.store.tokens import TokenScope, create_token, revoke_token


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'spoolwatch.db'}")


def test_a_token_scope_is_read_from_the_store_once_while_cached(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = create_token(store, "agent", TokenScope.INGEST)
    lookups: list[str] = []
    real = auth.token_scope

    def counting(store: Store, token: str) -> TokenScope | None:
        lookups.append(token)
        return real(store, token)

    monkeypatch.setattr(auth, "token_scope", counting)
    checker = auth.TokenChecker(store, cache_seconds=60.0)
    assert checker.cached(token) is None
    assert [checker.verdict(token) for _ in range(100)] == [TokenScope.INGEST] * 100
    assert checker.cached(token) is TokenScope.INGEST
    assert [checker.verdict("sw_wrong") for _ in range(3)] == [False] * 3
    assert lookups == [token, "sw_wrong"]


def test_a_revoked_token_stops_working_once_its_cache_entry_expires(store: Store) -> None:
    _, token = create_token(store, "agent", TokenScope.INGEST)
    checker = auth.TokenChecker(store, cache_seconds=0.0)
    assert checker.is_valid(token)
    revoke_token(store, "agent")
    assert not checker.is_valid(token) and checker.verdict(token) is False
