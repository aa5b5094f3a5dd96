"""The AWS SAM template of the serverless agents, shipped inside the package."""

from __future__ import annotations

from importlib import resources

__all__ = ["DEFAULT_CODE_URI", "sam_template"]

#: Where ``spoolwatch deploy package`` writes the zip, relative to ``deploy/aws/``.
DEFAULT_CODE_URI = "../../build/spoolwatch-lambda.zip"


def sam_template(code_uri: str | None = None) -> str:
    """The template text; ``code_uri`` replaces the function's ``CodeUri`` (a path or s3:// URI)."""
    text = resources.files("spoolwatch.deploy").joinpath("files/template.yaml").read_text("utf-8")
    if code_uri is not None:
        if "\n" in code_uri or not code_uri.strip():
            raise ValueError("code URI must be a single non-empty line")
        text = text.replace(f"CodeUri: {DEFAULT_CODE_URI}", f"CodeUri: {code_uri}")
    return text
