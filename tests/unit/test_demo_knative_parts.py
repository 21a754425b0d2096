"""The pure parts of `pilot demo --knative`: the example's layout and its first-revision copy, the events
made of what the control plane reports, and the kubelet thread's spawns under the signal guard."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from pilot.demo_knative_setup import bundled_knative, copy_for_demo, read_layout
from pilot.demo_knative_watch import Observer, route_shares
from pilot.demo_lifecycle import DemoProcesses, SignalGuard, Stop
from pilot.demo_startup import DemoError
from pilot.sources.yaml_files import load_paths
from pilot.testing.processes import ProcessGroup
from pilot.validation import validate_document, validate_resource


def test_the_bundled_example_reads_as_old_revision_new_revision_tag_and_client() -> None:
    layout = read_layout(bundled_knative())
    assert (layout.old.name, layout.old.ip, layout.new.name, layout.new.ip) == \
        ("hello-00001", "127.10.40.11", "hello-00002", "127.10.40.12")
    assert (layout.tag, layout.host, layout.tag_host) == \
        ("v1", "hello.default.svc.cluster.local", "v1-hello.default.svc.cluster.local")
    assert (layout.client.name, layout.client.bind, layout.client.admin) == \
        ("sleep-v1-0", "127.10.41.10", "127.10.42.10")


def test_the_copy_starts_at_the_first_revision_without_revision_pods_and_validates(tmp_path: Path) -> None:
    layout = read_layout(bundled_knative())
    copy_for_demo(bundled_knative(), tmp_path, layout)
    docs = [d for p in sorted(tmp_path.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == \
        [("Pod", "sleep-v1-0"), ("Sidecar", "sleep"), ("Service", "hello")]
    service = docs[-1]
    assert service["spec"]["template"]["metadata"]["name"] == "hello-00001"
    assert service["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1")  # the Revision's
    assert service["spec"]["traffic"] == [{"revisionName": "hello-00001", "percent": 0, "tag": "v1"},
                                          {"latestRevision": True, "percent": 100}]
    edit = layout.rollout_service(7)
    assert edit["metadata"]["annotations"] == {"serving.knative.dev/rollout-duration": "7s"}
    assert edit["spec"]["template"]["metadata"]["name"] == "hello-00002"
    assert "annotations" not in layout.rollout_service(0)["metadata"]
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(edit))
    resources, findings, _ = load_paths([str(tmp_path)], validate_document)
    findings += [f for r in resources for f in validate_resource(r)]
    assert [f.line() for f in findings if f.is_error] == []


def test_an_example_of_another_shape_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n")
    with pytest.raises(DemoError, match=r"needs exactly one Knative Service \(serving.knative.dev/v1\), found 0"):
        read_layout(tmp_path)


def _report(traffic: list[dict], ready: tuple[str, ...]) -> dict:
    return {"objects": [{"kind": "KnativeService", "namespace": "default", "name": "hello",
                         "status": {"traffic": traffic}}],
            "revisions": [{"namespace": "default", "name": r, "ready": True} for r in ready]}


METRICS = """# TYPE meshpilot_activator_cold_start_seconds histogram
meshpilot_activator_cold_start_seconds_bucket{revision="default/hello-00001",le="+Inf"} COUNT
meshpilot_activator_cold_start_seconds_sum{revision="default/hello-00001"} SUM
meshpilot_activator_cold_start_seconds_count{revision="default/hello-00001"} COUNT
meshpilot_activator_handoffs_aborted_total{revision="default/hello-00002"} ABORTED
"""


def _metrics(count: int, total: float, aborted: int = 0) -> str:
    return METRICS.replace("COUNT", str(count)).replace("SUM", str(total)).replace("ABORTED", str(aborted))


def test_each_poll_reports_only_what_changed() -> None:
    w = Observer("default", "hello", idle_s=4)
    tag = {"revisionName": "hello-00001", "percent": 0, "tag": "v1"}
    assert w.update(_report([tag, {"revisionName": "hello-00001", "percent": 100}], ("hello-00001",)),
                    _metrics(0, 0), []) == ["hello-00001 ready (its pod answers)",
                                            "control plane routes hello: hello-00001 100%"]
    shares = [{"revisionName": "hello-00001", "percent": 99}, {"revisionName": "hello-00002", "percent": 1}]
    step = _report([tag, *shares], ("hello-00001", "hello-00002"))
    assert w.update(step, _metrics(0, 0), []) == ["hello-00002 ready (its pod answers)",
                                                  "control plane routes hello: hello-00001 99% hello-00002 1%"]
    assert w.update(step, _metrics(0, 0), []) == []
    events = w.update(step, _metrics(1, 0.75, aborted=1), ["hello-00001"])
    assert events[0].startswith("hello-00001 scaled to zero: idle 4 s")
    assert events[1].startswith("hello-00002: scale to zero aborted, requests reached the activator")
    assert events[2] == "hello-00001 cold start took 0.75 s (activator: first held request to a ready pod)"
    assert w.update(step, _metrics(3, 2.75, aborted=2), ["hello-00001"]) == [
        "hello-00001 cold start took 1.00 s (activator: first held request to a ready pod)"]  # (2.75-0.75)/2


def test_route_shares_merge_a_revision_and_leave_tags_out() -> None:
    report = _report([{"revisionName": "a", "percent": 0, "tag": "v1"}, {"revisionName": "a", "percent": 30},
                      {"revisionName": "b", "percent": 70}], ())
    assert route_shares(report, "default", "hello") == {"a": 30, "b": 70}
    assert route_shares(report, "default", "other") == {}


def test_a_signal_while_another_thread_spawns_stops_the_main_thread_not_that_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inside, release = threading.Event(), threading.Event()

    def slow_start(*_args: object, **_kw: object) -> None:  # a spawn the signal lands in the middle of
        inside.set()
        release.wait(5)

    monkeypatch.setattr(ProcessGroup, "start", slow_start)
    errors: list[BaseException] = []

    def kubelet() -> None:
        try:
            group.start("app-hello-00002", ["app"])
        except BaseException as exc:
            errors.append(exc)

    with SignalGuard() as guard:
        group = DemoProcesses(workdir=tmp_path, guard=guard)
        thread = threading.Thread(target=kubelet)
        thread.start()
        assert inside.wait(5)
        try:
            with pytest.raises(Stop):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(2)  # a handler held back would let this finish
        finally:
            release.set()
            thread.join(5)
    assert errors == []
