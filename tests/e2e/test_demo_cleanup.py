"""``spoolwatch demo`` removes its temporary folder when it stops (done, Ctrl-C), unless
``--keep`` or ``--data-dir`` asked to keep the data, and then says where it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow

COMMAND = [sys.executable, "-m", "spoolwatch", "demo", "--rows", "600"]


def _env(tmp: Path) -> dict[str, str]:
    # The demo's temporary folder goes under TMPDIR, so the test can see what is left.
    return {**os.environ, "TMPDIR": str(tmp), "COLUMNS": "200", "NO_COLOR": "1"}


def _demo_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("spoolwatch-demo-*"))


def test_demo_removes_its_temporary_folder_when_done(tmp_path: Path) -> None:
    done = subprocess.run(
        [*COMMAND, "--exit", "--json", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["data_kept"] is False
    assert Path(summary["data_dir"]).parent == tmp_path
    assert _demo_folders(tmp_path) == []
    assert f"removed the demo's temporary folder {summary['data_dir']}" in done.stderr


def test_demo_keeps_its_folder_when_asked_and_says_where(tmp_path: Path) -> None:
    done = subprocess.run(
        [*COMMAND, "--exit", "--keep", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [kept] = _demo_folders(tmp_path)
    assert (kept / "spoolwatch.db").is_file()
    assert f"Data kept in {kept}" in done.stdout


def test_demo_removes_its_temporary_folder_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*COMMAND, "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        output = ""
        while "Dashboard:" not in output:
            line = process.stdout.readline()
            assert line and time.monotonic() < deadline, output
            output += line
        assert len(_demo_folders(tmp_path)) == 1
        assert "removed when the demo stops; --keep keeps it" in output
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "removed the demo's temporary folder" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()
    assert _demo_folders(tmp_path) == []
