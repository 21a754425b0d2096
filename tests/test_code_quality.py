"""Lint, types and layering are part of the test suite: a failing contract fails CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool if (BIN / tool).exists() else shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} not installed")
    return subprocess.run([str(exe), *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_clean() -> None:
    r = _run("ruff", "check", "pilot", "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_layers() -> None:
    r = _run("lint-imports")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_clean() -> None:
    r = _run("mypy", "pilot")
    assert r.returncode == 0, r.stdout + r.stderr
