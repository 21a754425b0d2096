"""`pilot demo --knative` run as a newcomer runs it, stdout to a file: the plain lines show the gradual
rollout ending at 100 % on the new revision, the old revision scaled to zero, then cold-started through
the activator with its time, no failed request, exit 0, and no process left behind (hook-started apps
included)."""

from __future__ import annotations

import itertools
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.demo_kit import Demo, knative_demo_config


def _can_bind_port_80() -> bool:
    path = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    return os.geteuid() == 0 or (path.exists() and int(path.read_text()) <= 80)


# Knative routes are on port 80, so the client's sidecar listens on port 80 (docs/knative.md).
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not _can_bind_port_80(), reason="needs to bind port 80")]

LINE = re.compile(r"^\[\s*(\d+)s\] hello: hello-00001 (\d+)% hello-00002 (\d+)% err (\d+)%.* \| route (.*)$", re.M)
EVENT = re.compile(r"^\[\s*\d+s\] event: (.*)$", re.M)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    cfg, _block = knative_demo_config(tmp_path)
    d = Demo(cfg, tmp_path / "demo.out", ["--knative", "--duration", "24", "--rollout-duration", "5s"])
    yield d
    d.kill_everything()


def _index(text: str, pattern: str) -> int:
    m = re.search(pattern, text, re.M)
    assert m, f"no {pattern!r} in:\n{text}"
    return m.start()


def test_rollout_scale_to_zero_and_cold_start_show_in_the_plain_lines(demo: Demo) -> None:
    demo.start()
    demo.wait_for(re.compile(r"^mesh up: hello-00001 serving", re.M), 30)
    demo.record_children()
    workdir = demo.workdir()
    assert workdir and Path(workdir).is_dir(), demo.output()
    demo.wait_for(re.compile(r"event: hello-00002 ready"), 20)
    demo.record_children()  # the kubelet's app for the new revision
    demo.wait_for(re.compile(r"event: hello-00001 cold start took"), 30)
    demo.record_children()  # the old revision's app, started again by the activation hook
    assert demo.proc is not None and demo.proc.wait(30) == 0, demo.output()
    assert time.monotonic() - demo.started < 55, "keep the demo test under a minute"
    out = demo.output()

    lines = LINE.findall(out)
    assert len(lines) >= 15 and all(err == "0" for *_x, err, _r in lines), out
    edited = _index(out, r"event: edited service\.yaml: new template → revision hello-00002 \(rollout-duration 5s\)")
    done = _index(out, r"event: rollout done: hello-00002 has 100 %")
    zero = _index(out, r"event: hello-00001 scaled to zero: .*deactivation hook stopped its app")
    cold = _index(out, r"event: hello-00001 cold start took \d+\.\d+ s")
    woke = _index(out, r"event: v1-hello\.default\.svc\.cluster\.local answered by hello-00001 after")
    assert edited < done < zero < cold <= woke, out

    before = [int(new) for _t, _o, new, _e, _r in LINE.findall(out[:edited])]
    assert before and all(share == 0 for share in before), out
    rolling = [int(new) for _t, _o, new, _e, _r in LINE.findall(out[edited:done])]
    assert any(0 < share < 100 for share in rolling), out  # it went through intermediate steps
    assert all(b >= a - 8 for a, b in itertools.pairwise(rolling)), rolling  # and only forward
    steps = [e for e in EVENT.findall(out[edited:done]) if e.startswith("control plane routes hello:")]
    assert len(steps) >= 3 and steps[-1] == "control plane routes hello: hello-00002 100%", steps
    after = LINE.findall(out[done:])
    assert after and all((old, new) == ("0", "100") for _t, old, new, _e, _r in after[1:]), out

    took = float(re.search(r"cold start took (\d+\.\d+) s", out).group(1))  # type: ignore[union-attr]
    assert 0 < took < 10, out
    sent = re.search(r"^requests: (\d+) sent, (\d+) failed$", out, re.M)
    assert sent and int(sent.group(1)) > 1000 and sent.group(2) == "0", out
    print(f"cold start {took:.2f} s; {sent.group(1)} requests; rollout lines {rolling}")

    assert "stopped every process the demo started" in out
    assert demo.leftovers() == [], out
    assert not Path(workdir).exists(), "the demo left its temp dir"


def test_sigterm_mid_rollout_stops_the_kubelets_apps_too(demo: Demo) -> None:
    demo.start()
    demo.wait_for(re.compile(r"event: control plane routes hello: hello-00001 \d+% hello-00002 \d+%"), 40)
    demo.record_children()  # both revisions' apps, the second started by the demo's kubelet thread
    assert sum("pilot.testing.apps" in _cmdline(pid) for pid in demo.children) == 2, demo.children
    workdir = demo.workdir()
    assert demo.signal(signal.SIGTERM) == 128 + signal.SIGTERM, demo.output()
    assert demo.leftovers() == [], demo.output()
    assert not Path(workdir).exists()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
