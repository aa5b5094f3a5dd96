"""ReporterConfig: DataRobot's MLOPS_* variables, SPOOLWATCH_* equivalents and arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.report import Reporter, ReporterConfig
from spoolwatch.spools import MemorySpool
from spoolwatch.spools.filesystem import FilesystemSpool


def test_datarobot_variables_fill_every_field() -> None:
    env = {
        "MLOPS_SPOOLER_TYPE": "filesystem",
        "MLOPS_FILESYSTEM_DIRECTORY": "/tmp/spool",
        "MLOPS_SPOOLER_DATA_FORMAT": "BYTE_ARRAY",
        "MLOPS_FILESYSTEM_MAX_FILE_SIZE": "2048",
        "MLOPS_FILESYSTEM_MAX_NUM_FILES": "3",
        "MLOPS_SPOOLER_CHECKSUM": "false",
        "MLOPS_DEPLOYMENT_ID": "dep",
        "MLOPS_MODEL_ID": "model",
        "MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE": "2",
        "MLOPS_PREDICTIONS_DATA_MAX_LINES_PER_CHUNK": "500",
        "MLOPS_ASYNC_REPORTING": "true",
        "MLOPS_ASSOCIATION_ID_COLUMN_NAME": "row_id",
    }
    config = ReporterConfig.from_env(env)
    assert config.spooler_type == "FILESYSTEM"
    assert config.filesystem_directory == "/tmp/spool"
    assert config.data_format == "BYTE_ARRAY"
    assert config.filesystem_max_file_size == 2048
    assert config.filesystem_max_num_files == 3
    assert (config.deployment_id, config.model_id) == ("dep", "model")
    assert config.rows_per_record == 2
    assert config.max_lines_per_chunk == 500
    assert config.background is True
    assert config.association_id_column_name == "row_id"
    assert config.spool_target() == (
        "/tmp/spool",
        {"data_format": "BYTE_ARRAY", "max_file_size": 2048, "max_files": 3, "checksum": False},
    )


def test_legacy_datarobot_names_and_values_are_understood() -> None:
    env = {
        "MLOPS_OUTPUT_TYPE": "OUTPUT_DIR",
        "MLOPS_SPOOLER_DIR_PATH": "/tmp/old",
        "MLOPS_SPOOLER_FILE_MAX_SIZE": "10",
        "MLOPS_SPOOLER_MAX_FILES": "4",
    }
    config = ReporterConfig.from_env(env)
    assert config.spooler_type == "FILESYSTEM"
    assert config.filesystem_directory == "/tmp/old"
    assert (config.filesystem_max_file_size, config.filesystem_max_num_files) == (10, 4)
    rabbit = ReporterConfig.from_env(
        {
            "MLOPS_SPOOLER_TYPE": "RABBIT_MQ",
            "MLOPS_RABBITMQ_URL": "amqp://h/%2F",
            "MLOPS_RABBITMQ_QUEUE_NAME": "q",
        }
    )
    assert rabbit.spooler_type == "RABBITMQ"
    assert rabbit.spool_target() == ("amqp://h/%2F?queue=q", {})


def test_precedence_is_argument_then_spoolwatch_then_mlops_then_legacy() -> None:
    env = {
        "MLOPS_DEPLOYMENT_ID": "from-mlops",
        "SPOOLWATCH_DEPLOYMENT_ID": "from-spoolwatch",
        "MLOPS_MODEL_ID": "model-mlops",
        "MLOPS_FILESYSTEM_DIRECTORY": "/new",
        "MLOPS_SPOOLER_DIR_PATH": "/legacy",
    }
    config = ReporterConfig.from_env(env)
    assert config.deployment_id == "from-spoolwatch"
    assert config.model_id == "model-mlops"
    assert config.filesystem_directory == "/new"
    assert ReporterConfig.from_env(env, deployment_id="from-arg").deployment_id == "from-arg"
    assert ReporterConfig.from_env(env, deployment_id=None).deployment_id == "from-spoolwatch"


def test_reporter_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_DEPLOYMENT_ID", "env-dep")
    monkeypatch.setenv("SPOOLWATCH_MODEL_ID", "env-model")
    monkeypatch.setenv("SPOOLWATCH_FEATURE_DATA_ROWS_IN_ONE_MESSAGE", "9")
    reporter = Reporter(MemorySpool("cfg-args"), model_id="arg-model", rows_per_record=4)
    assert reporter.config.deployment_id == "env-dep"
    assert reporter.config.model_id == "arg-model"
    assert reporter.config.rows_per_record == 4


def test_reporter_from_env_opens_the_configured_spool() -> None:
    env = {"SPOOLWATCH_SPOOLER_TYPE": "MEMORY", "MLOPS_DEPLOYMENT_ID": "d", "MLOPS_MODEL_ID": "m"}
    MemorySpool.reset("default")
    with Reporter.from_env(env) as reporter:
        assert reporter.spool.name == "memory://default"
        reporter.report_deployment_stats(1, 2.0)
    assert MemorySpool("default").backlog().visible == 1
    MemorySpool.reset("default")


def test_spool_address_setting_is_used_as_is() -> None:
    config = ReporterConfig.from_env({"SPOOLWATCH_SPOOL_ADDRESS": "memory://elsewhere"})
    assert config.open_spool().name == "memory://elsewhere"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {
                "MLOPS_SQS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/a",
                "MLOPS_SQS_QUEUE_NAME": "b",
            },
            ["MLOPS_SQS_QUEUE_URL", "MLOPS_SQS_QUEUE_NAME"],
        ),
        (
            {"MLOPS_RABBITMQ_SSL_CERTIFICATE_PATH": "/c.pem"},
            ["MLOPS_RABBITMQ_SSL_CERTIFICATE_PATH", "MLOPS_RABBITMQ_SSL_KEYFILE_PATH"],
        ),
        (
            {"MLOPS_SPOOLER_TYPE": "SQS", "MLOPS_SPOOLER_DATA_FORMAT": "BYTE_ARRAY"},
            ["MLOPS_SPOOLER_DATA_FORMAT"],
        ),
        (
            {"SPOOLWATCH_SPOOLER_TYPE": "SQS", "SPOOLWATCH_SPOOL_ADDRESS": "memory://x"},
            ["SPOOLWATCH_SPOOL_ADDRESS", "SPOOLWATCH_SPOOLER_TYPE"],
        ),
        ({"MLOPS_SPOOLER_TYPE": "KAFKA"}, ["MLOPS_SPOOLER_TYPE"]),
        ({"MLOPS_SPOOLER_DATA_FORMAT": "json"}, ["MLOPS_SPOOLER_DATA_FORMAT"]),
        (
            {"MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE": "many"},
            ["MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE"],
        ),
        ({"SPOOLWATCH_ASYNC_REPORTING": "maybe"}, ["SPOOLWATCH_ASYNC_REPORTING"]),
    ],
)
def test_conflicting_or_wrong_settings_are_rejected_naming_the_variables(
    env: dict[str, str], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        ReporterConfig.from_env(env)
    for name in names:
        assert name in str(info.value)


def test_a_matching_sqs_url_and_name_are_accepted() -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/models"
    config = ReporterConfig.from_env(
        {"MLOPS_SPOOLER_TYPE": "SQS", "MLOPS_SQS_QUEUE_URL": url, "MLOPS_SQS_QUEUE_NAME": "models"}
    )
    assert config.spool_target() == (url, {})
    by_name = ReporterConfig.from_env({"MLOPS_SPOOLER_TYPE": "SQS", "MLOPS_SQS_QUEUE_NAME": "q"})
    assert by_name.spool_target() == ("sqs://q", {})


def test_rabbitmq_queue_in_url_and_name_must_agree() -> None:
    config = ReporterConfig(
        spooler_type="RABBITMQ",
        rabbitmq_queue_url="amqp://u:secret@h/%2F?queue=a",
        rabbitmq_queue_name="b",
    )
    with pytest.raises(ConfigError) as info:
        config.spool_target()
    assert "MLOPS_RABBITMQ_QUEUE_NAME" in str(info.value)
    assert "secret" not in str(info.value)


def test_rabbitmq_tls_paths_become_spool_options() -> None:
    config = ReporterConfig(
        spooler_type="RABBITMQ",
        rabbitmq_queue_url="amqps://h/%2F",
        rabbitmq_queue_name="q",
        rabbitmq_ssl_ca_certificate_path="/ca.pem",
        rabbitmq_ssl_certificate_path="/c.pem",
        rabbitmq_ssl_keyfile_path="/k.pem",
        rabbitmq_ssl_tls_version="TLSv1.2",
    )
    assert config.spool_target() == (
        "amqps://h/%2F?queue=q",
        {
            "ca_certificate_path": "/ca.pem",
            "certificate_path": "/c.pem",
            "keyfile_path": "/k.pem",
            "tls_version": "TLSv1.2",
        },
    )


def test_missing_spool_settings_say_which_variable_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MLOPS_SPOOLER_TYPE"):
        ReporterConfig.from_env({}).spool_target()
    with pytest.raises(ConfigError, match="MLOPS_FILESYSTEM_DIRECTORY"):
        ReporterConfig(spooler_type="FILESYSTEM").spool_target()
    with pytest.raises(ConfigError, match="MLOPS_SQS_QUEUE_URL"):
        ReporterConfig(spooler_type="SQS").spool_target()
    with pytest.raises(ConfigError, match="MLOPS_RABBITMQ_QUEUE_NAME"):
        ReporterConfig(spooler_type="RABBITMQ", rabbitmq_queue_url="amqp://h/").spool_target()
    with pytest.raises(ConfigError, match="MLOPS_SPOOLER_TYPE"):
        Reporter(config=ReporterConfig())


def test_unknown_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match="deploymnet_id"):
        ReporterConfig.from_env({}, deploymnet_id="x")


def test_background_settings_come_from_spoolwatch_variables() -> None:
    config = ReporterConfig.from_env(
        {
            "SPOOLWATCH_REPORT_BUFFER_SIZE": "7",
            "SPOOLWATCH_REPORT_MAX_BLOCK_SECONDS": "0.5",
            "SPOOLWATCH_ASYNC_REPORTING": "yes",
        }
    )
    assert (config.buffer_size, config.max_block_seconds, config.background) == (7, 0.5, True)
    with pytest.raises(ConfigError, match="buffer_size"):
        ReporterConfig(buffer_size=0)


def test_filesystem_record_cap_and_fsync_come_from_spoolwatch_variables(tmp_path: Path) -> None:
    env = {
        "MLOPS_SPOOLER_TYPE": "FILESYSTEM",
        "MLOPS_FILESYSTEM_DIRECTORY": str(tmp_path),
        "SPOOLWATCH_FILESYSTEM_MAX_RECORD_BYTES": "65536",
        "SPOOLWATCH_FILESYSTEM_FSYNC": "true",
    }
    config = ReporterConfig.from_env(env)
    assert config.spool_target()[1] == {
        "data_format": "JSON",
        "max_record_bytes": 65536,
        "fsync": True,
    }
    spool = config.open_spool()
    assert isinstance(spool, FilesystemSpool)
    assert (spool.max_record_bytes, spool.fsync) == (65536, True)
