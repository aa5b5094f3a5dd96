"""Build the Lambda deployment zip: spoolwatch plus its dependencies for Lambda's platform.

Dependencies are fetched as binary wheels for the target platform with pip's own platform
options (``--platform manylinux2014_aarch64 --only-binary=:all:``), so the zip works on
Lambda whatever machine builds it. boto3 is left out by default: the Lambda Python runtime
ships it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from spoolwatch.errors import ConfigError

__all__ = ["LAMBDA_REQUIREMENTS", "PackageResult", "build_lambda_zip"]

#: What the handler imports at run time (no CLI, no server, no numpy).
LAMBDA_REQUIREMENTS = (
    "orjson>=3.9",
    "pydantic>=2.6",
    "pydantic-settings>=2.3",
    "pyyaml>=6",
    "httpx>=0.27",
)

_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
_SKIP_DIRS = {"__pycache__", "static", "templates"}


@dataclass(frozen=True, slots=True)
class PackageResult:
    """The zip that was built."""

    path: Path
    size_bytes: int
    files: int


def _copy_package(target: Path) -> None:
    source = Path(str(resources.files("spoolwatch")))

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip = {name for name in names if name in _SKIP_DIRS or name.endswith(".pyc")}
        if Path(directory) == source:
            skip |= {"server", "sim", "cli", "demo"}
        return skip

    shutil.copytree(source, target / "spoolwatch", ignore=ignore)


def _pip_install(target: Path, arch: str, python_version: str, extra: list[str]) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--platform",
        _PLATFORMS[arch],
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--upgrade",
        *LAMBDA_REQUIREMENTS,
        *extra,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise ConfigError(
            f"pip could not fetch the Lambda dependencies:\n{completed.stderr[-2000:]}"
        )


def build_lambda_zip(
    output: Path, *, arch: str = "arm64", python_version: str = "3.12", with_boto3: bool = False
) -> PackageResult:
    """Build ``output`` (a .zip) for Lambda's ``arch`` and Python version; returns its size."""
    if arch not in _PLATFORMS:
        raise ConfigError(f"--arch must be one of {sorted(_PLATFORMS)}, not {arch!r}")
    if not python_version.replace(".", "").isdigit() or python_version.count(".") != 1:
        raise ConfigError(f"--python must look like 3.12, not {python_version!r}")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spoolwatch-lambda-") as tmp:
        staging = Path(tmp)
        _pip_install(staging, arch, python_version, ["boto3"] if with_boto3 else [])
        _copy_package(staging)
        files = 0
        with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(staging.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(staging))
                    files += 1
    return PackageResult(output, output.stat().st_size, files)
