"""``spoolwatch serve``'s settings: one table gives every setting a flag and a ``SPOOLWATCH_*``
variable (the flag wins), the same one-line error for a bad value from either, and the
README's table. Nothing here starts a service."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from spoolwatch.cli import app
from spoolwatch.cli import serve as serve_cli
from spoolwatch.errors import ConfigError
from spoolwatch.server.setting import Setting, SettingError
from spoolwatch.server.settings import ServerSettings
from spoolwatch.server.settings_table import SERVE_SETTINGS, SERVICE_SETTINGS, markdown_table
from spoolwatch.service_app import settings_to_env

README = Path(__file__).resolve().parents[2] / "README.md"
SETTING_IDS = [s.name for s in SERVE_SETTINGS]
FLEET_NAMES = ("fleet_data_queue_url", "fleet_agent_queue_url", "fleet_table")


def _serve_command() -> Any:
    command: Any = typer.main.get_command(app)
    return command.commands["serve"]


def _parsed(args: list[str]) -> dict[str, Any]:
    """``serve``'s parsed options for ``args``, as the CLI parses them; nothing runs."""
    params: dict[str, Any] = _serve_command().make_context("serve", list(args)).params
    return params


def _other_value(entry: Setting, n: int = 1) -> tuple[str, Any]:
    """A valid value that is not the default (a different one for ``n=2``): as text, and
    as the setting holds it."""
    if entry.kind is bool:
        value = not entry.default if n == 1 else bool(entry.default)
        return ("true" if value else "false"), value
    if entry.choices:
        text = next(c for c in entry.choices if c != entry.default) if n == 1 else entry.default
        return text, text
    if entry.kind is int:
        number = entry.default + n
        return str(number), number
    if entry.kind is float:
        if entry.maximum is None:
            value = entry.default + n
        elif entry.name.endswith("_red"):  # above the yellow threshold's default
            value = entry.default + (entry.maximum - entry.default) / (n + 1)
        else:
            value = entry.default / (n + 1)
        return str(value), value
    text = f"https://example.test/{n}" if entry.url else f"value-{n}"
    if entry.name == "host":
        text = f"127.0.0.{n + 1}"
    return text, text


def _flag_args(entry: Setting, text: str, value: Any) -> list[str]:
    if entry.kind is bool:
        return [entry.flag if value else f"--no-{entry.flag[2:]}"]
    return [entry.flag, text]


@pytest.fixture(autouse=True)
def _no_serve_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the variables it sets."""
    for entry in SERVE_SETTINGS:
        monkeypatch.delenv(entry.env, raising=False)


def test_the_table_names_every_field_once_with_a_flag_and_a_variable() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(ServerSettings)}
    assert {s.name: s.default for s in SERVICE_SETTINGS} == fields
    for attribute in ("name", "flag", "env"):
        values = [getattr(s, attribute) for s in SERVE_SETTINGS]
        assert len(set(values)) == len(values), attribute
    for entry in SERVE_SETTINGS:
        assert entry.env.startswith("SPOOLWATCH_") and entry.env == entry.env.upper()
        assert entry.flag.startswith("--") and entry.flag == entry.flag.lower()
        assert entry.help and entry.panel
        entry.check(entry.default)  # every default is valid


def test_every_serve_option_is_a_row_of_the_table_with_its_flag_and_variable() -> None:
    options = {p.name: p for p in _serve_command().params if p.name != "help"}
    assert list(options) == SETTING_IDS
    for entry in SERVE_SETTINGS:
        option = options[entry.name]
        assert option.opts == [entry.flag]
        assert option.envvar == entry.env
        assert option.secondary_opts == ([f"--no-{entry.flag[2:]}"] if entry.kind is bool else [])


def test_the_defaults_are_what_serve_parses_without_options() -> None:
    assert _parsed([]) == {s.name: s.default for s in SERVE_SETTINGS}


@pytest.mark.parametrize("entry", SERVE_SETTINGS, ids=SETTING_IDS)
def test_every_setting_is_reachable_by_flag_and_by_variable_and_the_flag_wins(
    entry: Setting, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, value = _other_value(entry)
    other_text, other_value = _other_value(entry, 2)
    assert value != other_value
    assert _parsed(_flag_args(entry, text, value))[entry.name] == value
    monkeypatch.setenv(entry.env, text)
    assert _parsed([])[entry.name] == value
    monkeypatch.setenv(entry.env, other_text)
    assert _parsed(_flag_args(entry, text, value))[entry.name] == value
    if entry.service:
        # The fleet's three names go together.
        companions = {n: "x" for n in FLEET_NAMES if entry.name in FLEET_NAMES and n != entry.name}
        assert getattr(ServerSettings.from_env(**companions), entry.name) == other_value
        explicit = ServerSettings.from_env(**{entry.name: value}, **companions)
        assert getattr(explicit, entry.name) == value


def test_an_empty_variable_is_not_set() -> None:
    environ = {s.env: "  " for s in SERVICE_SETTINGS}
    assert ServerSettings.from_env(environ) == ServerSettings()


def test_settings_handed_to_worker_processes_come_back_equal() -> None:
    values = {s.name: _other_value(s)[1] for s in SERVICE_SETTINGS}
    values.update(fleet_data_queue_url="https://sqs.example/1/data")
    values.update(fleet_agent_queue_url="https://sqs.example/1/agent")
    settings = ServerSettings(**values)
    assert ServerSettings(**json.loads(settings_to_env(settings))) == settings


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("accuracy_red", "abc", "must be a number"),
        ("accuracy_red", "nan", "must be a number"),
        ("accuracy_red", "0", "must be above 0 and at most 1"),
        ("error_rate_yellow", "1.5", "must be above 0 and at most 1"),
        ("port", "65536", "must be between 1 and 65535"),
        ("port", "80.5", "must be a whole number"),
        ("workers", "0", "must be at least 1"),
        ("alert_period_seconds", "0", "must be at least 1"),
        ("agent_stale_seconds", "0", "must be above 0"),
        ("cache_seconds", "-1", "must be at least 0"),
        ("max_body_bytes", "1000", "must be at least 1024"),
        ("drift_metric", "kl", "must be one of jensen_shannon, psi, wasserstein"),
        ("log_level", "loud", "must be one of critical, error, warning, info, debug, trace"),
        ("dashboard", "yes please", "must be true, false, 1 or 0"),
        ("auth", "no", "must be true, false, 1 or 0"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_flag(name: str, text: str, reason: str) -> None:
    entry = next(s for s in SERVE_SETTINGS if s.name == name)
    with pytest.raises(SettingError) as from_env:
        entry.parse(text, "env")
    assert str(from_env.value) == f"{entry.env}={text} ({entry.flags}): {reason}"
    with pytest.raises(SettingError) as from_flag:
        entry.parse(text, "flag")
    assert str(from_flag.value) == f"{entry.flag} {text} ({entry.env}): {reason}"


def test_a_secret_value_is_not_repeated_in_its_error() -> None:
    with pytest.raises(SettingError) as caught:
        ServerSettings.from_env({"SPOOLWATCH_WEBHOOK_URL": "hooks.example/T0/s3cret"})
    message = str(caught.value)
    assert message == "SPOOLWATCH_WEBHOOK_URL (--webhook-url): must be an http:// or https:// URL"


def test_python_values_are_checked_alike_and_name_the_field() -> None:
    with pytest.raises(SettingError, match=r"^accuracy_red=5 \(--accuracy-red, SPOOLWATCH_"):
        ServerSettings(accuracy_red=5)
    with pytest.raises(SettingError, match=r"drift_metric=1 .*: must be text"):
        ServerSettings(drift_metric=1)  # type: ignore[arg-type]
    with pytest.raises(SettingError, match=r"dashboard='yes' .*: must be true or false"):
        ServerSettings(dashboard="yes")  # type: ignore[arg-type]


def _serve_fails(monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str]) -> str:
    """``serve`` with ``args`` and ``env`` exits 2 with one line, before it binds a port."""

    def no_listening(host: str, port: int) -> None:
        raise AssertionError("serve went on to bind a port")

    monkeypatch.setattr(serve_cli, "_check_port", no_listening)
    result = CliRunner().invoke(app, ["serve", *args], env=env)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: ")
    return line.removeprefix("error: ")


def test_serve_refuses_a_flag_that_is_not_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _serve_fails(monkeypatch, ["--accuracy-red", "abc"], {})
    assert message == "--accuracy-red abc (SPOOLWATCH_ACCURACY_RED): must be a number"


def test_serve_refuses_a_variable_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _serve_fails(monkeypatch, [], {"SPOOLWATCH_ACCURACY_RED": "2"})
    assert message == "SPOOLWATCH_ACCURACY_RED=2 (--accuracy-red): must be above 0 and at most 1"


def test_serve_refuses_a_switch_variable_that_is_not_true_or_false(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = _serve_fails(monkeypatch, [], {"SPOOLWATCH_DASHBOARD": "maybe"})
    assert message == (
        "SPOOLWATCH_DASHBOARD=maybe (--dashboard/--no-dashboard): must be true, false, 1 or 0"
    )


def test_serve_refuses_an_unknown_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _serve_fails(monkeypatch, [], {"SPOOLWATCH_DRIFT_METRIC": "kl"})
    assert message == (
        "SPOOLWATCH_DRIFT_METRIC=kl (--drift-metric): must be one of jensen_shannon, psi, "
        "wasserstein"
    )


def test_serve_refuses_a_yellow_threshold_not_below_the_red_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = _serve_fails(
        monkeypatch, ["--error-rate-yellow", "0.3"], {"SPOOLWATCH_ERROR_RATE_RED": "0.3"}
    )
    assert message == (
        "--error-rate-yellow (SPOOLWATCH_ERROR_RATE_YELLOW) 0.3 must be below "
        "--error-rate-red (SPOOLWATCH_ERROR_RATE_RED) 0.3"
    )


def test_serve_refuses_auth_off_by_variable_on_a_public_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = _serve_fails(
        monkeypatch, [], {"SPOOLWATCH_AUTH": "0", "SPOOLWATCH_LISTEN_HOST": "0.0.0.0"}
    )
    assert "loopback" in message and "SPOOLWATCH_AUTH" in message


def test_a_bad_variable_stops_the_real_command_before_it_listens() -> None:
    env = {**os.environ, "SPOOLWATCH_LISTEN_PORT": "http"}
    result = subprocess.run(
        [sys.executable, "-m", "spoolwatch", "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "error: SPOOLWATCH_LISTEN_PORT=http (--port): must be a whole number\n"


def test_help_lists_every_setting_with_its_variable_under_its_panel() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    words = result.output.split()
    for entry in SERVE_SETTINGS:
        assert entry.flag in words
        assert any(word.strip("[];,.") == entry.env for word in words), entry.env
    lines = result.output.splitlines()
    panels = list(dict.fromkeys(s.panel for s in SERVE_SETTINGS))
    assert [line[:-1] for line in lines if line[:-1] in panels] == panels
    position = {line.split()[0]: i for i, line in enumerate(lines) if line.startswith("  --")}
    headings = {line[:-1]: i for i, line in enumerate(lines) if line[:-1] in panels}
    for entry in SERVE_SETTINGS:
        above = max(i for i in headings.values() if i < position[entry.flag])
        assert headings[entry.panel] == above, entry.flag


def test_the_readme_table_is_the_settings_table() -> None:
    text = README.read_text()
    after = text[text.index("**Configuring the service.**") :]
    lines = after.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    readme_table = "\n".join(lines[start:end]) + "\n"
    assert readme_table == markdown_table(), (
        "README.md's table under 'Configuring the service' differs from the settings table; "
        "print spoolwatch.server.settings_table.markdown_table() and paste it there"
    )


def test_an_app_with_a_fleet_but_no_reader_for_it_is_refused(tmp_path: Path) -> None:
    from spoolwatch.server.app import create_app

    settings = ServerSettings(
        db_url=f"sqlite:///{tmp_path / 'fleet.db'}",
        fleet_data_queue_url="https://sqs.eu-west-1.amazonaws.com/1/data",
        fleet_agent_queue_url="https://sqs.eu-west-1.amazonaws.com/1/agents",
        fleet_table="fleet",
    )
    with pytest.raises(ConfigError, match="build_app"):
        create_app(settings=settings)
