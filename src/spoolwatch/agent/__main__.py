"""``python -m spoolwatch.agent --config FILE [...]``: the same as ``spoolwatch agent run``."""

from __future__ import annotations

import typer

from spoolwatch.cli.agent import EXIT_HELP, run


def main() -> None:
    """Run the agent command on its own."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(help=f"Run the spoolwatch agent. {EXIT_HELP}")(run)
    app(prog_name="python -m spoolwatch.agent")


if __name__ == "__main__":
    main()
