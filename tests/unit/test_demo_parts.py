"""The pure and local parts of `pilot demo`: the 1 s window, its lines, signals, address checks."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from pilot import demo_ports
from pilot.demo import block_of
from pilot.demo_lifecycle import SignalGuard, Stop, exit_code
from pilot.demo_startup import DemoError, check_free
from pilot.demo_view import WINDOW_S, Flow, finding_lines, plain_line


def test_the_window_forgets_answers_older_than_a_second() -> None:
    flow = Flow("reviews", ("v1", "v2", "v3"))
    for i in range(100):
        flow.record("v1", True, now=i * 0.01)  # 0.00 .. 0.99 s: all v1
    for i in range(100):
        flow.record("v2", True, now=1.0 + i * 0.01)  # then 1 s of v2, as after an edit
    n, versions, errors = flow.split(now=1.0 + WINDOW_S)
    assert (n, versions["v1"], versions["v2"], sum(errors.values())) == (100, 0, 100, 0)
    assert flow.summary(now=2.0) == "reviews: v1 0% v2 100% v3 0% err 0% n=100"


def test_errors_are_a_share_with_their_commonest_kind() -> None:
    flow = Flow("ratings", ("v1",), {"end-user": "jason"})
    for i, (outcome, ok) in enumerate([("v1", True)] * 2 + [("HTTP 503", False)] * 3 + [("TimeoutError", False)]):
        flow.record(outcome, ok, now=i * 0.1)
    assert flow.summary(now=0.6) == "ratings (end-user: jason): v1 33% err 67% (HTTP 503) n=6"
    assert flow.summary(now=5) == "ratings (end-user: jason): no answer in the last 1s"
    assert plain_line([flow], 12.2, "proxies synced 6/6") == \
        "[  12s] ratings (end-user: jason): no answer in the last 1s | proxies synced 6/6"


def test_findings_are_file_line_message_relative_to_the_config_dir(tmp_path: Path) -> None:
    configz = {"findings": [
        {"severity": "error", "message": "weight -5 < 0", "kind": "VirtualService", "namespace": "default",
         "name": "reviews", "field": "spec.http[0].route[0].weight", "file": str(tmp_path / "vs.yaml"), "line": 3},
        {"severity": "warning", "message": "skipped", "kind": "Gateway", "namespace": "", "name": "gw",
         "field": "", "file": "/elsewhere/gw.yaml", "line": 1}]}
    assert finding_lines(configz, tmp_path) == [
        "/elsewhere/gw.yaml:1: Gateway gw: warning: skipped",
        "rejected: vs.yaml:3: VirtualService default/reviews: spec.http[0].route[0].weight: weight -5 < 0"]


def test_a_signal_is_held_back_while_a_process_is_spawned_then_raised() -> None:
    with SignalGuard() as guard:
        with pytest.raises(Stop) as stopped, guard.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            spawned = True  # the handler ran (synchronously, for a signal to ourselves) and waited
        assert spawned and stopped.value.signum == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGHUP)  # once stopping, signals are only noted
        assert guard.received == signal.SIGTERM
    assert (exit_code(signal.SIGTERM), exit_code(signal.SIGHUP), exit_code(signal.SIGINT)) == (143, 129, 0)


def test_a_listening_socket_is_in_use_and_owned_by_its_process() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        address = s.getsockname()
        err = demo_ports.probe(address)
        assert err is not None and demo_ports.is_in_use(err)
        with pytest.raises(DemoError, match=rf"^127\.0\.0\.1:{address[1]} is already in use \(another demo"):
            check_free([address])
        if demo_ports.can_check_owners():
            assert demo_ports.not_owned(os.getpgrp(), [address]) == []
            assert os.getpid() in demo_ports.owners(address)
    assert demo_ports.probe(address) is None  # closed: free again, TIME_WAIT or not
    if demo_ports.can_check_owners():
        assert demo_ports.not_owned(os.getpgrp(), [address]) == [address]


def test_the_block_comes_from_the_configs_productpage_pod(tmp_path: Path) -> None:
    from pilot.testing.mesh import BOOKINFO, LoopbackMesh

    (tmp_path / "mesh.yaml").write_text(LoopbackMesh.build(BOOKINFO, block=(127, 123, 44)).yaml())
    (tmp_path / "broken.yaml").write_text("kind: [")
    assert block_of(tmp_path) == (127, 123, 44)
    assert block_of(tmp_path / "nothing") == (127, 10, 0)
