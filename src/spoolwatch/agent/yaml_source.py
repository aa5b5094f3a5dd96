"""A parsed YAML document that remembers the line of every key, for errors that name it."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from spoolwatch.errors import ConfigError

__all__ = ["YamlSource", "load_yaml"]

Path = tuple[str | int, ...]


@dataclass
class YamlSource:
    """YAML data plus ``lines``: key path → 1-based line number in ``source``."""

    data: Any
    source: str
    lines: dict[Path, int] = field(default_factory=dict)

    def get(self, path: Path) -> Any:
        """The value at ``path`` or ``None``."""
        node = self.data
        for part in path:
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    return None
            elif not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def where(self, path: Path) -> str:
        """``file:line: dotted.key`` for messages (the nearest known line)."""
        line = None
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line is not None:
                break
        location = f"{self.source}:{line}" if line is not None else self.source
        return f"{location}: {_dotted(path)}" if path else location

    def error(self, path: Path, message: str) -> ConfigError:
        """A ConfigError naming the file, line and key."""
        return ConfigError(f"{self.where(path)}: {message}")

    def reject_unknown(self, path: Path, known: Collection[str]) -> None:
        """Raise for keys under ``path`` that are not in ``known``."""
        node = self.get(path)
        if node is None:
            return
        if not isinstance(node, dict):
            raise self.error(path, "must be a mapping")
        for key in node:
            if key not in known:
                raise self.error((*path, key), f"unknown key; expected one of {sorted(known)}")

    def string(self, path: Path, default: str | None) -> str | None:
        """A string value (numbers are accepted and turned into text)."""
        value = self.get(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(path, f"must be a string, got {type(value).__name__}")
        return str(value)

    def integer(
        self, path: Path, default: int, *, low: int | None = None, high: int | None = None
    ) -> int:
        """An integer value, within ``[low, high]``."""
        value = self.get(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, f"must be an integer, got {value!r}")
        if low is not None and value < low:
            raise self.error(path, f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise self.error(path, f"must be at most {high}, got {value}")
        return value

    def number(
        self, path: Path, default: float, *, low: float | None = None, high: float | None = None
    ) -> float:
        """A number, within ``[low, high]``."""
        value = self.get(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(path, f"must be a number, got {value!r}")
        if not math.isfinite(value):  # YAML's .nan/.inf pass every comparison or sleep forever
            raise self.error(path, f"must be a finite number, got {value!r}")
        if low is not None and value < low:
            raise self.error(path, f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise self.error(path, f"must be at most {high}, got {value}")
        return float(value)

    def boolean(self, path: Path, default: bool | None) -> bool | None:
        """``true``/``false`` (also the strings ``true``, ``false``, ``yes``, ``no``)."""
        value = self.get(path)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "yes", "1", "false", "no", "0"}:
            return value.lower() in {"true", "yes", "1"}
        raise self.error(path, f"must be true or false, got {value!r}")

    def choice(self, path: Path, allowed: Iterable[str], default: str) -> str:
        """One of ``allowed``."""
        options = tuple(allowed)
        value = self.string(path, default)
        if value not in options:
            raise self.error(path, f"must be one of {', '.join(options)}, got {value!r}")
        return value


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_yaml(text: str, source: str) -> YamlSource:
    """Parse YAML safely and index the line of every mapping key and list item."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.safe_load(text)
    lines: dict[Path, int] = {}
    if node is not None:
        _index(node, (), lines)
    return YamlSource(data=data, source=source, lines=lines)


def _index(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _index(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            lines[(*path, position)] = item.start_mark.line + 1
            _index(item, (*path, position), lines)
