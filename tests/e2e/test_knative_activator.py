"""Scale from zero and to zero through a real Envoy gateway: the activator holds, the hook starts the
app, EDS flips between the activator and the pods, and scale-to-zero waits for every proxy's ACK."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from pilot.testing.processes import http_get, wait_until
from tests.e2e.knative_kit import knative_lab

pytestmark = pytest.mark.e2e


def test_cold_burst_is_held_then_served_and_the_cold_start_reported(tmp_path: Path) -> None:
    with knative_lab(tmp_path) as lab:
        hello = lab.revisions["hello"]
        # Cold: the revision's endpoints are the activator, never empty.
        assert lab.gateway_endpoints(hello) == [f"127.0.0.1:{lab.activator_port}"]
        started = time.monotonic()
        answers = lab.burst("hello", 20)
        took = time.monotonic() - started
        assert [status for status, _h, _b in answers] == [200] * 20, answers
        seen = [json.loads(body) for _s, _h, body in answers]
        assert {s["version"] for s in seen} == {hello.name}
        # Held by the activator, which forwarded to the pod itself.
        assert all(s["headers"].get("k-proxy-request") == "activator" for s in seen), seen[0]
        assert not any("knative-serving-revision" in s["headers"] for s in seen)  # stripped, as Knative does
        assert lab.kubelet.activations == [hello.name]  # one hook call for the whole burst
        assert lab.metric("meshpilot_activator_cold_start_seconds_count", revision=f"default/{hello.name}") == 1
        cold = lab.metric("meshpilot_activator_cold_start_seconds_sum", revision=f"default/{hello.name}")
        assert 0 < cold <= took
        assert lab.metric("meshpilot_activator_requests_total", result="served") == 20
        # Warm: EDS now holds the pod, so requests bypass the activator.
        wait_until(lambda: lab.gateway_endpoints(hello) == [f"{hello.ip}:8080"], 10, what="EDS -> pod")
        status, _h, body = lab.request("hello")
        assert status == 200 and "k-proxy-request" not in json.loads(body)["headers"]
        assert "cold start of revision default/hello-00001 took" in lab.runner.control_plane.log_tail(200)


def test_activation_timeout_answers_503(tmp_path: Path) -> None:
    with knative_lab(tmp_path, broken=("broken",), extra_args=("--activation-timeout", "1s")) as lab:
        started = time.monotonic()
        status, _h, body = lab.request("broken")
        assert status == 503
        assert b"did not become ready within 1 s" in body
        assert 1.0 <= time.monotonic() - started < 5
        assert lab.metric("meshpilot_activator_requests_total", result="timed_out") == 1
        # The activator itself: an unknown revision is a 404.
        status, body = http_get(f"http://127.0.0.1:{lab.activator_port}/", headers={
            "Knative-Serving-Revision": "nope-00001", "Knative-Serving-Namespace": "default"})
        assert status == 404 and b"no revision 'nope-00001'" in body


class Traffic:
    """Requests to one service, back to back from a few threads, until stopped; counts what failed."""

    def __init__(self, lab, service: str, workers: int = 3) -> None:  # type: ignore[no-untyped-def]
        self.lab, self.service = lab, service
        self.ok = 0
        self.failed: list[tuple[int, bytes]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(20)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, _h, body = self.lab.request(self.service)
            except OSError as exc:
                status, body = 0, str(exc).encode()
            if status == 200:
                self.ok += 1
            else:
                self.failed.append((status, body))


def test_scale_to_zero_hands_off_without_losing_a_request(tmp_path: Path) -> None:
    # 3 s idle: the lab must be up and checked before the idle timer can hand a warm revision off (with
    # 1 s, a slow start on a loaded machine found it already pointing at the activator).
    args = ("--scale-to-zero-after", "3s", "--scale-to-zero-grace", "200ms")
    with knative_lab(tmp_path, warm=("hello", "other"), extra_args=args) as lab:
        hello, other = lab.revisions["hello"], lab.revisions["other"]
        assert lab.gateway_endpoints(hello) == [f"{hello.ip}:8080"]
        with Traffic(lab, "other") as to_other:
            with Traffic(lab, "hello") as to_hello:
                time.sleep(0.5)
            # hello's traffic stopped: it is idle for 3 s, handed off, then its app is stopped.
            wait_until(lambda: lab.kubelet.deactivations == [hello.name], 15, what="hello scaled to zero")
            assert lab.gateway_endpoints(hello) == [f"127.0.0.1:{lab.activator_port}"]
            assert hello.name not in lab.kubelet.apps
            # Requests to it now wake it up again, and are answered.
            status, _h, body = lab.request("hello")
            assert status == 200 and json.loads(body)["headers"]["k-proxy-request"] == "activator"
            assert lab.kubelet.activations == [hello.name]
            time.sleep(0.5)
        assert to_hello.ok > 0 and to_other.ok > 0
        assert to_hello.failed == [] and to_other.failed == []
        # other had traffic the whole time: any hand-off the idle timer began was aborted by its requests
        # reaching the activator, so it was never deactivated.
        assert other.name not in lab.kubelet.deactivations
        log = lab.runner.control_plane.log_tail(400)
        assert "revision default/hello-00001: 1 proxies ACKed the activator endpoints" in log


def test_scale_to_zero_waits_for_the_ack_of_a_paused_envoy(tmp_path: Path) -> None:
    # The idle window is long enough that the Envoy is surely paused before the first hand-off starts,
    # however slowly the lab came up (on a loaded machine a 500 ms window had already scaled it to zero).
    args = ("--scale-to-zero-after", "2s", "--scale-to-zero-grace", "100ms", "--handoff-timeout", "1s")
    with knative_lab(tmp_path, warm=("hello",), extra_args=args) as lab:
        hello = lab.revisions["hello"]
        envoy = lab.runner.envoys[lab.gateway.name]
        os.killpg(envoy.pid, signal.SIGSTOP)  # connected, but it will not ACK anything
        try:
            wait_until(lambda: lab.metric("meshpilot_activator_handoffs_aborted_total") >= 1, 10,
                       what="hand-off aborted")
            assert lab.kubelet.deactivations == []  # the pod was never stopped behind the proxy's back
            assert hello.name in lab.kubelet.apps
        finally:
            os.killpg(envoy.pid, signal.SIGCONT)
        # Once it ACKs again, the next attempt goes through.
        wait_until(lambda: lab.kubelet.deactivations == [hello.name], 10, what="hello scaled to zero")
        assert lab.gateway_endpoints(hello) == [f"127.0.0.1:{lab.activator_port}"]
        assert "did not ACK the activator endpoints within 1 s" in lab.runner.control_plane.log_tail(400)
