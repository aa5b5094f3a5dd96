"""spoolwatch.scaling's public names are curated and all importable."""

from __future__ import annotations

import importlib

import spoolwatch.scaling as scaling

MODULES = ["base", "breaker", "clock", "deadline", "leases", "memory", "policy", "settings"]


def test_every_public_name_of_each_module_is_exported_by_the_package() -> None:
    exported = set(scaling.__all__)
    for name in MODULES:
        module = importlib.import_module(f"spoolwatch.scaling.{name}")
        missing = [n for n in module.__all__ if n not in exported and n != "ENV_PREFIX"]
        assert missing == [], f"spoolwatch.scaling.{name}: {missing} not exported"


def test_every_exported_name_exists() -> None:
    for name in scaling.__all__:
        assert getattr(scaling, name) is not None
    assert sorted(scaling.__all__) == scaling.__all__
