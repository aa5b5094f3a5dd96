"""``spoolwatch deploy ...``: the AWS template and the Lambda package."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from spoolwatch.cli.output import console, fail
from spoolwatch.deploy.package import build_lambda_zip
from spoolwatch.deploy.template import sam_template
from spoolwatch.errors import ConfigError

app = typer.Typer(
    help="Deploy the serverless agents: AWS SAM template and Lambda package.", no_args_is_help=True
)


@app.command("template")
def template(
    code_uri: str | None = typer.Option(
        None, "--code-uri", help="CodeUri of the function (path to the zip or s3:// URI)."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Print the AWS SAM template (data queue, agent queue, table, function, schedule, IAM)."""
    try:
        text = sam_template(code_uri)
    except ValueError as exc:
        fail(f"--code-uri: {exc}")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


@app.command("package")
def package(
    output: Path = typer.Option(
        Path("build/spoolwatch-lambda.zip"), "--output", "-o", help="Where to write the zip."
    ),
    arch: str = typer.Option("arm64", "--arch", help="Lambda architecture: arm64 or x86_64."),
    python: str = typer.Option("3.12", "--python", help="Lambda Python version."),
    with_boto3: bool = typer.Option(
        False, "--with-boto3", help="Bundle boto3 instead of using the runtime's."
    ),
) -> None:
    """Build the Lambda zip with dependencies for Lambda's platform; print its size."""
    try:
        result = build_lambda_zip(output, arch=arch, python_version=python, with_boto3=with_boto3)
    except ConfigError as exc:
        fail(str(exc))
    console.print(
        f"wrote {result.path}: {result.size_bytes / 1_048_576:.1f} MiB, {result.files} files "
        f"(Lambda {arch}, Python {python})"
    )
