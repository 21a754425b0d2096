"""The repo works from a fresh clone in any folder, as CI and a new user get it: no path into another
checkout, no file that only exists next to this one. One small real-Envoy test runs inside a clone of HEAD
with this venv's Python (its pytest puts the clone first on sys.path, so the clone's code is what runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMALL_ENVOY_TEST = "tests/e2e/test_authz_envoy.py::test_envoy_rejects_broken_config_so_the_validation_test_can_fail"

pytestmark = pytest.mark.e2e


def test_a_real_envoy_test_passes_in_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "c"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True,
                   capture_output=True, timeout=60)
    env = {k: v for k, v in os.environ.items() if k not in ("ENVOY_BIN", "PYTHONPATH")}
    probe = subprocess.run([sys.executable, "-c", "import pilot, tests.e2e.envoy_kit_authz as k; "
                            "print(pilot.__file__); print(k.ENVOY)"],
                           cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    pilot_file, envoy = probe.stdout.split()
    assert Path(pilot_file).resolve().is_relative_to(clone.resolve()), "the clone's own code must run"
    assert Path(envoy).exists(), envoy
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SMALL_ENVOY_TEST],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout, run.stdout
