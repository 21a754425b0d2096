"""The Knative reconciler stage: revisions, last good traffic, status, the derived resources, and what the
existing translation makes of them for a client sidecar (the policies/knative example)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_pb2

from pilot.cli_policy import load_resources
from pilot.knative.reconciler import KnativeReconciler, report
from pilot.model.proxy import NodeId
from pilot.model.resource import ConfigKey, Resource
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.translate.generate import ROUTE, generate
from pilot.validation import validate_resource

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "policies/knative"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _service(template_image: str = "v1", traffic: list[dict[str, Any]] | None = None, name: str = "",
             annotations: dict[str, str] | None = None) -> str:
    template: dict[str, Any] = {"spec": {"containers": [{"image": template_image, "ports": [{"containerPort": 8080}]}]}}
    if name:
        template["metadata"] = {"name": name}
    spec: dict[str, Any] = {"template": template}
    if traffic is not None:
        spec["traffic"] = traffic
    meta: dict[str, Any] = {"name": "hello", "namespace": "default", "annotations": annotations or {}}
    return yaml.safe_dump({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": meta,
                           "spec": spec})


def _pod(revision: str, ip: str, ready: bool = True) -> str:
    status: dict[str, Any] = {"podIP": ip}
    if not ready:
        status["conditions"] = [{"type": "Ready", "status": "False"}]
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": f"{revision}-{ip}", "namespace": "default",
                                        "labels": {"serving.knative.dev/revision": revision}},
                           "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": status})


def _load(*docs: str) -> list[Resource]:
    return resources_from_yaml("---\n".join(docs))


def _derived(out: list[Resource], kind: str) -> dict[str, Resource]:
    return {r.name: r for r in out if r.kind == kind and r.origin.path.startswith("knative://")}


def _status(rec: KnativeReconciler) -> dict[str, Any]:
    status = rec.status_of(ConfigKey("KnativeService", "default", "hello"))
    assert status is not None
    return status


def test_template_change_creates_the_next_revision_and_keeps_the_first_addressable() -> None:
    rec = KnativeReconciler(clock=Clock())
    pods = [_pod("hello-00001", "10.0.0.1"), _pod("hello-00002", "10.0.0.2")]
    rec(_load(_service("v1"), *pods))
    assert _status(rec)["latestCreatedRevisionName"] == "hello-00001"
    pinned = [{"revisionName": "hello-00001", "percent": 50, "tag": "old"}, {"latestRevision": True, "percent": 50}]
    out, _ = rec(_load(_service("v2", pinned), *pods))
    status = _status(rec)
    assert (status["latestCreatedRevisionName"], status["latestReadyRevisionName"]) == ("hello-00002", "hello-00002")
    assert [(t["revisionName"], t["percent"]) for t in status["traffic"]] == [("hello-00001", 50), ("hello-00002", 50)]
    assert {"hello-00001", "hello-00002"} <= set(_derived(out, "Service"))
    # Editing something outside the template (traffic) makes no new revision.
    rec(_load(_service("v2"), *pods))
    assert [r["name"] for r in report(rec)["revisions"]] == ["hello-00001", "hello-00002"]


def test_byo_revision_name() -> None:
    rec = KnativeReconciler(clock=Clock())
    rec(_load(_service("v1", name="hello-blue"), _pod("hello-blue", "10.0.0.1")))
    assert _status(rec)["traffic"] == [{"revisionName": "hello-blue", "configurationName": "hello",
                                        "latestRevision": True, "percent": 100}]


def test_a_missing_target_keeps_the_last_good_routing() -> None:
    rec = KnativeReconciler(clock=Clock())
    good, _ = rec(_load(_service("v1"), _pod("hello-00001", "10.0.0.1")))
    vs = _derived(good, "VirtualService")["hello-mesh"]
    broken = [{"revisionName": "hello-00009", "percent": 100}]
    out, changed = rec(_load(_service("v1", broken), _pod("hello-00001", "10.0.0.1")))
    assert _derived(out, "VirtualService")["hello-mesh"].body == vs.body
    assert not {k for k in changed if k.kind == "VirtualService"}
    conditions = {c["type"]: c for c in _status(rec)["conditions"]}
    assert conditions["RoutesReady"]["status"] == "False"
    assert conditions["RoutesReady"]["message"] == 'Revision "hello-00009" referenced in traffic not found.'
    assert _status(rec)["traffic"][0]["revisionName"] == "hello-00001"


def test_no_ready_revision_programs_nothing_and_says_why() -> None:
    rec = KnativeReconciler(clock=Clock())
    out, _ = rec(_load(_service("v1"), _pod("hello-00001", "10.0.0.1", ready=False)))
    assert not _derived(out, "VirtualService")
    ready = {c["type"]: c for c in _status(rec)["conditions"]}["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "RevisionMissing"


def test_a_new_revision_that_is_not_ready_leaves_traffic_on_the_ready_one() -> None:
    rec = KnativeReconciler(clock=Clock())
    rec(_load(_service("v1"), _pod("hello-00001", "10.0.0.1")))
    rec(_load(_service("v2"), _pod("hello-00001", "10.0.0.1")))
    status = _status(rec)
    assert (status["latestCreatedRevisionName"], status["latestReadyRevisionName"]) == ("hello-00002", "hello-00001")
    assert [t["revisionName"] for t in status["traffic"]] == ["hello-00001"]


def test_revision_endpoints_are_its_ready_pods_on_the_container_port() -> None:
    rec = KnativeReconciler(clock=Clock())
    resources = _load(_service("v1"), _pod("hello-00001", "10.0.0.1"), _pod("hello-00001", "10.0.0.3"),
                      _pod("hello-00001", "10.0.0.9", ready=False), _pod("other-00001", "10.0.0.5"))
    out, _ = rec(resources)
    snap = build_snapshot(out)
    eps = snap.service_endpoints("hello-00001.default.svc.cluster.local", 80)
    assert [(e.address, e.port) for e in eps] == [("10.0.0.1", 8080), ("10.0.0.3", 8080)]


def test_an_existing_revision_service_wins() -> None:
    real = yaml.safe_dump({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "hello-00001", "namespace": "default"},
                           "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8012}]}})
    out, _ = KnativeReconciler(clock=Clock())(_load(_service("v1"), _pod("hello-00001", "10.0.0.1"), real))
    assert "hello-00001" not in _derived(out, "Service") and "hello-00001-pods" not in _derived(out, "EndpointSlice")


def test_unchanged_input_changes_nothing_and_no_knative_costs_nothing() -> None:
    rec = KnativeReconciler(clock=Clock())
    resources = _load(_service("v1"), _pod("hello-00001", "10.0.0.1"))
    _, first = rec(resources)
    assert ConfigKey("VirtualService", "default", "hello-mesh") in first
    assert rec(resources)[1] == set()
    plain = _load(_pod("web", "10.0.0.7"))
    assert KnativeReconciler()(plain) == (plain, set())


def test_rollout_through_the_reconciler() -> None:
    clock = Clock()
    rec = KnativeReconciler(clock=clock)
    slow = {"serving.knative.dev/rollout-duration": "6s"}
    pods = [_pod("hello-00001", "10.0.0.1"), _pod("hello-00002", "10.0.0.2")]
    rec(_load(_service("v1", annotations=slow), *pods))
    assert rec.next_due == 0.0
    rec(_load(_service("v2", annotations=slow), *pods))
    shares = []
    while True:
        status = _status(rec)
        shares.append({t["revisionName"]: t["percent"] for t in status["traffic"]}.get("hello-00002", 0))
        if not rec.next_due:
            break
        assert {c["type"]: c for c in status["conditions"]}["RoutesReady"]["reason"] == "RolloutInProgress"
        clock.now = rec.next_due
        rec(_load(_service("v2", annotations=slow), *pods))
    assert shares == [1, 21, 41, 61, 81, 100]
    assert {c["type"]: c["status"] for c in _status(rec)["conditions"]}["Ready"] == "True"


def test_example_derives_valid_istio_config_and_translates_as_net_istio() -> None:
    resources = load_resources([EXAMPLE], quiet=True)
    out, _ = KnativeReconciler()(resources)
    derived = [r for r in out if r.origin.path.startswith("knative://")]
    assert {(r.kind, r.name) for r in derived} == {
        ("Service", "hello-00001"), ("EndpointSlice", "hello-00001-pods"), ("Service", "hello-00002"),
        ("EndpointSlice", "hello-00002-pods"), ("Service", "hello"), ("Service", "v1-hello"),
        ("VirtualService", "hello-mesh")}
    for r in derived:
        assert validate_resource(r) == [], r
    snap = build_snapshot(out)
    client = snap.proxy_view(NodeId.parse("sidecar~127.10.40.10~sleep-v1-0.default~default.svc.cluster.local"))
    rcfg = route_pb2.RouteConfiguration()
    generate(snap, client)[ROUTE]["80"].Unpack(rcfg)
    hosts = {d: vh for vh in rcfg.virtual_hosts for d in vh.domains}
    main = hosts["hello.default.svc.cluster.local"].routes[0]
    assert main.match.headers[0].name == ":authority"
    weighted = {c.name: c.weight.value for c in main.route.weighted_clusters.clusters}
    assert weighted == {"outbound|80||hello-00001.default.svc.cluster.local": 10,
                        "outbound|80||hello-00002.default.svc.cluster.local": 90}
    headers = {h.header.key: (h.header.value, h.append_action)
               for h in main.route.weighted_clusters.clusters[1].request_headers_to_add}
    overwrite = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
    assert headers == {"Knative-Serving-Revision": ("hello-00002", overwrite),
                       "Knative-Serving-Namespace": ("default", overwrite)}
    assert not main.route.HasField("retry_policy")  # Knative: the ingress makes no retries
    assert main.route.timeout.ToTimedelta().total_seconds() == 0  # and has no timeout
    tagged = hosts["v1-hello.default.svc.cluster.local"]
    tag_route = next(r for r in tagged.routes if r.match.headers and "v1-hello" in str(r.match.headers[0]))
    assert tag_route.route.cluster == "outbound|80||hello-00001.default.svc.cluster.local"
