"""What the lab's unprivileged processes run, placed where they may run it.

Envoy runs as uid 1337 and the apps as uid 1500, but the checkout and its venv may sit below a directory only
root can enter (a `mktemp -d` clone is mode 0700, a pyenv lives under /root). So the lab gives them their
own copies in its world-readable work dir: the Envoy binary (a hard link when on the same filesystem) and
the two stdlib-only programs they run (the test app and the HTTP client), run as plain scripts by a Python
that uid may execute. Outside pilot/ and importing nothing of ours, so running them as scripts puts no
package of ours on sys.path.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pilot.testing import apps, netns_client
from pilot.testing.envoy import envoy_binary


@dataclass(frozen=True)
class LabRuntime:
    envoy: str
    app_script: str
    client_script: str


def prepare_runtime(workdir: Path) -> LabRuntime:
    bin_dir = workdir / "bin"
    bin_dir.mkdir(mode=0o755, exist_ok=True)
    bin_dir.chmod(0o755)
    envoy = bin_dir / "envoy"
    if not envoy.exists():
        try:
            os.link(envoy_binary(), envoy)
        except OSError:  # another filesystem: a copy (~100 MB) is the price
            shutil.copy2(envoy_binary(), envoy)
    envoy.chmod(0o755)
    scripts = {}
    for name, module in (("meshpilot_app.py", apps), ("meshpilot_client.py", netns_client)):
        target = bin_dir / name
        shutil.copyfile(str(module.__file__), target)
        target.chmod(0o644)
        scripts[name] = str(target)
    return LabRuntime(str(envoy), scripts["meshpilot_app.py"], scripts["meshpilot_client.py"])
