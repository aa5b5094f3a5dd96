"""How ``--help`` is laid out, for every command at once.

Typer's rich help draws options in a table whose columns shrink with the terminal, so at
80 columns and below it cuts defaults and env var names with "…", and it labels every flag
``<bool>`` and repeatable options ``<list[str]>``. The ``spoolwatch`` command uses the plain
layout instead (``rich_markup_mode=None``), with a formatter that wraps at spaces only, so a
word such as ``SPOOLWATCH_TARGET_CONCURRENCY`` is never cut however narrow the terminal, and
that writes a repeatable option's value as ``<str>...``.

:class:`HelpGroup` is the root group's class: when typer builds the command tree it hands
every command to it, and it gives each one :class:`HelpContext`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = ["HelpCommand", "HelpContext", "HelpFormatter", "HelpGroup"]

_LIST_METAVAR = re.compile(r"<list\[([^\]]+)\]>")
_BOOL_METAVAR = re.compile(r" <bool>")


def _tidy_names(first: str) -> str:
    """``--numeric <list[str]>`` → ``--numeric <str>...``; a flag shows no value."""
    return _BOOL_METAVAR.sub("", _LIST_METAVAR.sub(r"<\1>...", first))


def _wrap(text: str, width: int) -> list[str]:
    """``text`` wrapped at spaces only; a paragraph starting with ``\\b`` is kept as it is."""
    lines: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        if lines:
            lines.append("")
        if paragraph.startswith("\b"):
            lines.extend(paragraph[1:].strip("\n").splitlines())
            continue
        lines.extend(
            textwrap.wrap(
                " ".join(paragraph.split()),
                max(width, 10),
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return lines


# typer's own plain formatter (click's, vendored by recent typer versions).
_PlainFormatter: Any = typer.Context.formatter_class


class HelpFormatter(_PlainFormatter):  # type: ignore[misc]
    """Typer's plain help formatter, wrapping at spaces only."""

    def write_text(self, text: str) -> None:
        """A paragraph of description, indented, whole words per line."""
        indent = " " * self.current_indent
        for line in _wrap(text, self.width - self.current_indent):
            self.write(f"{indent}{line}\n" if line else "\n")

    def write_dl(
        self,
        rows: Sequence[tuple[str, str]],
        col_max: int = 30,
        col_spacing: int = 2,
        *,
        names_width: int = 0,
    ) -> None:
        """The options or commands list: names, then their help wrapped beside them (at
        least ``names_width`` to the right, so that several lists line up)."""
        tidy = [(_tidy_names(first), second) for first, second in rows]
        col_max = min(col_max, max(self.width // 3, 12))  # leave the help room when narrow
        widest = max((len(first) for first, _ in tidy), default=0)
        first_col = min(max(widest, names_width), col_max) + col_spacing
        indent = " " * self.current_indent
        for first, second in tidy:
            self.write(f"{indent}{first}")
            if not second:
                self.write("\n")
                continue
            if len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - len(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = _wrap(second, self.width - first_col - self.current_indent) or [""]
            self.write(f"{lines[0]}\n")
            pad = " " * (first_col + self.current_indent)
            for line in lines[1:]:
                self.write(f"{pad}{line}\n" if line else "\n")


class HelpContext(typer.Context):
    """The context of every ``spoolwatch`` command: it formats help with :class:`HelpFormatter`."""

    formatter_class = HelpFormatter


def _use_help_context(commands: Iterable[Any]) -> None:
    for command in commands:
        command.context_class = HelpContext
        _use_help_context(getattr(command, "commands", {}).values())


class HelpCommand(TyperCommand):
    """A command whose options are listed under the headings their ``rich_help_panel`` names
    (typer's plain help lists every option under "Options"); the others come last, there."""

    # typer's click context and formatter: classes typer does not export under public names.
    def format_options(self, ctx: Any, formatter: Any) -> None:
        """Arguments, then one section per help panel, then the options without one."""
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                title = "Arguments"
            else:
                title = getattr(param, "rich_help_panel", None) or "Options"
            sections.setdefault(title, []).append(record)
        titles = sorted(sections, key=lambda t: (t != "Arguments", t == "Options"))
        widest = max(len(_tidy_names(first)) for rows in sections.values() for first, _ in rows)
        for title in titles:
            with formatter.section(title):
                if isinstance(formatter, HelpFormatter):
                    formatter.write_dl(sections[title], names_width=widest)
                else:
                    formatter.write_dl(sections[title])


class HelpGroup(TyperGroup):
    """The root group: it and every command below it format help with :class:`HelpContext`."""

    context_class = HelpContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _use_help_context(self.commands.values())
