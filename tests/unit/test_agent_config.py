"""Agent configuration: our YAML, DataRobot's mlops.agent.conf.yaml, errors, secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from spoolwatch.agent.config_file import EXAMPLE_CONFIG, load_config, parse_config
from spoolwatch.errors import ConfigError
from spoolwatch.sinks.secrets import Secret

MINIMAL = "target:\n  url: http://127.0.0.1:8080\nchannels:\n  - name: fs\n    spool: /tmp/x\n"


def test_example_config_parses_and_fills_every_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOOLWATCH_API_TOKEN", "tok-123")
    config = parse_config(EXAMPLE_CONFIG)
    assert config.target.url == "http://127.0.0.1:8080"
    assert config.target.api_token == Secret("tok-123")
    assert config.channels[0].address == "/var/spool/mlops"
    assert config.batching.max_records == 2000
    assert config.retry.shutdown_grace_seconds == 10
    assert config.retry.server_error_attempts == 3
    assert config.heartbeat_enabled


def test_minimal_config_uses_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPOOLWATCH_API_TOKEN", raising=False)
    config = parse_config(MINIMAL)
    assert config.target.api_token is None
    assert config.channels[0].name == "fs"
    assert config.quarantine.unknown_types == "skip"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "target:\n  url: ftp://x\nchannels: [{spool: /tmp}]\n",
            "cfg.yaml:2: target.url: must start with http",
        ),
        (MINIMAL + "    bogus: 1\n", "cfg.yaml:6: channels[0].bogus: unknown key"),
        (MINIMAL + "batching:\n  max_records: 0\n", "cfg.yaml:7: batching.max_records: must be"),
        (MINIMAL + "retry:\n  jitter: 2\n", "cfg.yaml:7: retry.jitter: must be at most 1"),
        (
            MINIMAL + "retry:\n  server_error_attempts: 0\n",
            "cfg.yaml:7: retry.server_error_attempts: must be at least 1",
        ),
        (
            MINIMAL + "quarantine:\n  unknown_types: drop\n",
            "cfg.yaml:7: quarantine.unknown_types: must be one of skip, quarantine",
        ),
        ("target:\n  url: http://x\nchannels: []\n", "cfg.yaml:3: channels: a non-empty list"),
        ("channels: [{spool: /tmp}]\n", "cfg.yaml: target"),
        (MINIMAL + "  - name: fs\n    spool: /tmp/y\n", "cfg.yaml:6: channels[1].name: channel"),
        ("target: [\n", "cfg.yaml: not valid YAML"),
    ],
)
def test_bad_config_error_names_the_key_and_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="cfg.yaml")
    assert expected in str(info.value)


def test_token_from_env_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "s3cret-env")
    config = parse_config(
        MINIMAL.replace(
            "  url: http://127.0.0.1:8080\n", "  url: http://h\n  api_token_env: MY_TOKEN\n"
        )
    )
    assert config.target.api_token is not None
    assert config.target.api_token.reveal() == "s3cret-env"
    assert "s3cret-env" not in repr(config)
    assert "s3cret-env" not in f"{config.target.api_token}"


def test_missing_token_env_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"cfg.yaml:3: target.api_token_env: .*NOPE_TOKEN"):
        parse_config(
            "target:\n  url: http://h\n  api_token_env: NOPE_TOKEN\nchannels: [{spool: /tmp}]\n",
            source="cfg.yaml",
        )


def test_token_from_file_and_warning_when_others_can_read_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-file\n")
    token_file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        config = parse_config(
            f"target:\n  url: http://h\n  api_token_file: {token_file}\n"
            "channels: [{spool: /tmp}]\n"
        )
    assert config.target.api_token is not None
    assert config.target.api_token.reveal() == "s3cret-file"
    assert "readable by other users" in caplog.text
    assert "s3cret-file" not in caplog.text


def test_two_token_sources_are_rejected() -> None:
    with pytest.raises(ConfigError, match="give only one of"):
        parse_config(
            "target:\n  url: http://h\n  api_token: a\n  api_token_env: B\n"
            "channels: [{spool: /tmp}]\n"
        )


DATAROBOT = """\
mlopsUrl: "https://app.example.com"
apiToken: "dr-token-xyz"
verifySSL: false
runOnce: true
statsPath: /tmp/stats.json
httpConfig: {maxRetries: 3}
channelConfigs:
  - type: "FS_SPOOL"
    details: {name: "filesystem", spoolDirectoryPath: "/var/spool/mlops"}
  - type: "SQS_SPOOL"
    details: {name: "sqsSpool", queueUrl: "https://sqs.us-east-1.amazonaws.com/1234567/q"}
  - type: "RABBITMQ_SPOOL"
    details: {name: "rabbit", queueName: "mlops", queueUrl: "amqp://guest:guest@localhost:5672/"}
  - type: "RABBITMQ_SPOOL"
    details: {name: "embedded", rabbitmq_queue_name: "q2", rabbitmq_queue_url: "amqp://h/"}
  - type: "SQS_SPOOL"
    details: {name: "byname", queueName: "mlops-q"}
"""


def test_datarobot_agent_config_is_read_as_is(tmp_path: Path) -> None:
    path = tmp_path / "mlops.agent.conf.yaml"
    path.write_text(DATAROBOT)
    path.chmod(0o600)
    config = load_config(path)
    assert config.target.url == "https://app.example.com"
    assert config.target.kind == "datarobot"
    assert config.target.verify_ssl is False
    assert config.target.api_token is not None
    assert config.target.api_token.reveal() == "dr-token-xyz"
    assert config.run_once and config.stats_path == "/tmp/stats.json"
    assert not config.heartbeat_enabled
    assert [(c.name, c.address) for c in config.channels] == [
        ("filesystem", "/var/spool/mlops"),
        ("sqsSpool", "https://sqs.us-east-1.amazonaws.com/1234567/q"),
        ("rabbit", "amqp://guest:guest@localhost:5672/?queue=mlops"),
        ("embedded", "amqp://h/?queue=q2"),
        ("byname", "sqs://mlops-q"),
    ]


def test_datarobot_kafka_channel_is_rejected_with_its_line() -> None:
    text = (
        'mlopsUrl: "https://x"\nchannelConfigs:\n  - type: KAFKA_SPOOL\n'
        "    details: {name: k, topicName: t}\n"
    )
    with pytest.raises(ConfigError, match=r"dr.yaml:3: channelConfigs\[0\].type: KAFKA_SPOOL"):
        parse_config(text, source="dr.yaml")


def test_datarobot_fs_spool_without_directory_is_rejected() -> None:
    text = 'mlopsUrl: "https://x"\nchannelConfigs:\n  - type: FS_SPOOL\n    details: {name: f}\n'
    with pytest.raises(ConfigError, match=r"dr.yaml:4: channelConfigs\[0\].details: FS_SPOOL"):
        parse_config(text, source="dr.yaml")


def test_datarobot_token_falls_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAROBOT_API_TOKEN", "env-dr-token")
    monkeypatch.delenv("MLOPS_API_TOKEN", raising=False)
    config = parse_config(
        'mlopsUrl: "https://x"\nchannelConfigs:\n  - type: FS_SPOOL\n'
        "    details: {name: f, spoolDirectoryPath: /tmp}\n"
    )
    assert config.target.api_token is not None
    assert config.target.api_token.reveal() == "env-dr-token"


def test_config_file_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*missing\.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_channel_repr_hides_the_broker_password() -> None:
    config = parse_config(
        "target: {url: 'http://h'}\nchannels:\n"
        "  - spool: 'amqp://agent:pa55word@rabbit:5672/%2F?queue=q'\n"
    )
    assert "pa55word" not in repr(config) and "agent:****@rabbit" in repr(config)


def test_every_public_name_of_the_agent_package_resolves() -> None:
    import spoolwatch.agent
    import spoolwatch.sinks

    for package in (spoolwatch.agent, spoolwatch.sinks):
        for name in package.__all__:
            assert getattr(package, name) is not None, name
