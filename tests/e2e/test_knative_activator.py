"""Scale from zero and to zero through a real Envoy gateway: the activator holds, the hook starts the
app, EDS flips between the activator and the pods, and scale-to-zero waits for every proxy's ACK."""

from __future__ import annotations

import json
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
