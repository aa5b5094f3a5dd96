"""``spoolwatch serve`` on a port something else holds: one line, exit 2, no banner."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app

runner = CliRunner()


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port with a listening socket on it for the test's duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_serve_on_a_busy_port_fails_in_one_line_before_its_banner(
    held_port: int, tmp_path: Path
) -> None:
    db = tmp_path / "spoolwatch.db"
    result = runner.invoke(
        app, ["serve", "--port", str(held_port), "--db", f"sqlite:///{db}"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines == [
        f"error: port {held_port} on 127.0.0.1 is already in use (another service?); stop it "
        "or choose another port with --port"
    ]
    assert "spoolwatch service on" not in result.output
    assert not db.exists()


def test_serve_on_an_address_it_cannot_bind_fails_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["serve", "--host", "192.0.2.1", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: cannot listen on 192.0.2.1:8080")
    assert "Traceback" not in result.output
