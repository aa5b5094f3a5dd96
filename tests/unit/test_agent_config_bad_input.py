"""Agent config files that are wrong: ConfigError naming the key, never a traceback or a
password."""

from __future__ import annotations

import re

import pytest

from spoolwatch.agent.config_file import parse_config
from spoolwatch.errors import ConfigError

CHANNEL = "channels: [{name: a, spool: /tmp/spool}]\n"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            "target: {url: 'http://h'}\n" + CHANNEL + "retry: {initial_seconds: .nan}",
            "retry.initial",
        ),
        ("target: {url: 'http://h'}\n" + CHANNEL + "retry: {max_seconds: .inf}", "retry.max_sec"),
        ("target: {url: 'http://h', timeout_seconds: .nan}\n" + CHANNEL, "target.timeout"),
        ("target: {url: 'http://h'}\n" + CHANNEL + "stats: {interval_seconds: .nan}", "stats.int"),
        ("target: {url: 'http://h'}\n" + CHANNEL + "dedupe: {ttl_seconds: .nan}", "dedupe.ttl"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)) as caught:
        parse_config(text, source="agent.yaml")
    assert "finite" in str(caught.value)


def test_deeply_nested_yaml_is_a_config_error_not_a_recursion_error() -> None:
    text = "target: " + "[" * 5000 + "]" * 5000
    with pytest.raises(ConfigError, match=r"agent\.yaml"):
        parse_config(text, source="agent.yaml")


def test_password_in_a_bad_target_url_is_not_in_the_error() -> None:
    with pytest.raises(ConfigError, match=r"target\.url") as caught:
        parse_config("target: {url: 'ftp://u:pw-S3CRET@h'}\n" + CHANNEL, source="agent.yaml")
    assert "pw-S3CRET" not in str(caught.value)


def test_password_in_the_target_url_is_not_in_the_config_repr() -> None:
    config = parse_config("target: {url: 'https://u:pw-S3CRET@h'}\n" + CHANNEL)
    assert "pw-S3CRET" not in repr(config) and "pw-S3CRET" not in repr(config.target)
    assert config.target.url == "https://u:pw-S3CRET@h"
