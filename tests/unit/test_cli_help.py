"""``--help`` of every ``spoolwatch`` command, at a narrow and a normal terminal width: no
``<bool>`` or ``list[str]`` value labels, nothing cut with an ellipsis, env var names whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from spoolwatch.cli import app

runner = CliRunner()


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _env_vars(command: Any) -> list[str]:
    names: list[str] = []
    for param in command.params:
        if getattr(param, "show_envvar", False) and param.envvar:
            envvar = param.envvar
            names.extend([envvar] if isinstance(envvar, str) else envvar)
    return names


def test_every_command_and_group_is_covered() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"serve", "drift", "demo", "agent run", "spool inspect", "simulate"} <= paths
    assert any(_env_vars(command) for _, command in COMMANDS)


@pytest.mark.parametrize("width", [50, 100])
@pytest.mark.parametrize(
    ("path", "command"), [pytest.param(*c, id=" ".join(c[0]) or "root") for c in COMMANDS]
)
def test_help_has_no_type_labels_and_cuts_nothing(
    path: tuple[str, ...], command: Any, width: int
) -> None:
    result = runner.invoke(
        app, [*path, "--help"], terminal_width=width, env={"COLUMNS": str(width)}
    )
    assert result.exit_code == 0, result.output
    help_text = result.output
    assert "<bool>" not in help_text
    assert "list[" not in help_text
    assert "…" not in help_text
    words = help_text.split()
    for name in _env_vars(command):
        assert any(word.strip("[];,.") == name for word in words), (name, help_text)
    for param in command.params:
        for option in getattr(param, "opts", []):
            if option.startswith("--"):
                assert option in words, (option, help_text)
