"""Property-based fuzzing of the service's OpenAPI with schemathesis: no input, however
malformed, gets a 500. Bounded (few examples per operation) to stay fast."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.checks import not_a_server_error

from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.base import open_store
from spoolwatch.store.tokens import create_token


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, str]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "db.sqlite"
    store = open_store(f"sqlite:///{path}")
    token = create_token(store, "fuzz")[1]
    app = create_app(store, settings=ServerSettings(cache_seconds=0.0, alert_check_seconds=0.0))
    return app, token


def test_no_generated_request_gets_a_server_error(fuzzed_app: tuple[object, str]) -> None:
    app, token = fuzzed_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    # Writes first, so the reads then meet whatever odd deployments and records they stored.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: (op.method.upper() != "POST", op.method.upper() == "DELETE", op.path),
    )
    assert len(operations) > 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()
