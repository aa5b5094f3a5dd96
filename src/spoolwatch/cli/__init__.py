"""The ``spoolwatch`` command. Each command group lives in its own module of this package."""

from __future__ import annotations

import typer

from spoolwatch.cli import agent, db, demo, deploy, deployments, drift, fleet, serve, spool, tokens
from spoolwatch.cli import simulate as simulate_cli
from spoolwatch.cli.help import HelpGroup
from spoolwatch.version import __version__

app = typer.Typer(
    name="spoolwatch",
    help="Monitoring for ML models deployed anywhere: spools, agents, a monitoring service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help that wraps at spaces: typer's rich help cuts words at 80 columns and below.
    rich_markup_mode=None,
    cls=HelpGroup,
)
app.add_typer(spool.app, name="spool")
app.add_typer(deploy.app, name="deploy")
app.add_typer(agent.app, name="agent")
app.command("simulate", help=simulate_cli.HELP)(simulate_cli.simulate)
app.command("drift")(drift.drift)
app.command("serve", cls=serve.ServeCommand)(serve.serve)
app.command("demo")(demo.demo)
app.add_typer(tokens.app, name="tokens")
app.add_typer(deployments.app, name="deployments")
app.add_typer(fleet.app, name="fleet")
app.add_typer(db.app, name="db")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spoolwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Monitoring for ML models deployed anywhere."""


def main() -> None:
    """Entry point of the ``spoolwatch`` console script."""
    app()
