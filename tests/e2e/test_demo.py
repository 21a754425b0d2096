"""`pilot demo`, the main job, runs end to end for a newcomer and cleans up after itself."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pilot.testing.runner import REPO_ROOT, python_env

pytestmark = pytest.mark.e2e


def test_demo_shows_the_canary_split_and_stops_everything() -> None:
    env = {**python_env(), "COLUMNS": "120"}
    import os

    r = subprocess.run([sys.executable, "-m", "pilot", "demo", "--duration", "4"], capture_output=True, text=True,
                       timeout=120, env={**os.environ, **env}, cwd=REPO_ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = {m.group(1).strip(): [float(x) for x in m.groups()[1:]] for m in re.finditer(
        r"│ (reviews[^│]*?|ratings|details)\s*│\s*([\d.]+) %\s*│\s*([\d.]+) %\s*│\s*([\d.]+) %\s*│\s*([\d.]+) %",
        r.stdout)}
    v1, v2, _v3, errors = rows["reviews"]
    assert errors == 0 and 60 <= v1 <= 95 and v1 + v2 == pytest.approx(100, abs=0.2), rows
    assert rows["reviews (end-user: jason)"][1] == 100.0, rows
    assert "stopped every process the demo started" in r.stdout
    leftovers = subprocess.run(["pgrep", "-f", "envoy-productpage-v1-0.yaml"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "the demo left an Envoy running"
