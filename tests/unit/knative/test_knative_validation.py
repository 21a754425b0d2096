"""Knative Service/Route/Configuration/Revision validation, table-driven in the spirit of upstream's
pkg/apis/serving/v1 route_validation_test.go and service_validation_test.go: each case is a document
and the (field, message) findings it must give, no more and no fewer."""

from __future__ import annotations

from typing import Any

import pytest

from pilot.model.resource import Origin, resource_from_document
from pilot.validation import check_document, validate_resource
from tests.unit.validation.helpers import assert_findings

TEMPLATE = {"spec": {"containers": [{"image": "example/hello", "ports": [{"containerPort": 8080}]}]}}


def _doc(kind: str, spec: Any, name: str = "hello", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "serving.knative.dev/v1", "kind": kind, "metadata": meta, "spec": spec}


def _route(*traffic: dict[str, Any]) -> dict[str, Any]:
    return _doc("Route", {"traffic": list(traffic)})


def _service(*traffic: dict[str, Any], template: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": template or TEMPLATE}
    if traffic:
        spec["traffic"] = list(traffic)
    return _doc("Service", spec)


CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    # ---- Route (route_validation_test.go TestRouteValidation / TestTrafficTargetValidation) ----
    ("valid route", _route({"revisionName": "foo", "percent": 100}), []),
    ("valid split", _route({"revisionName": "foo", "percent": 90}, {"configurationName": "bar", "percent": 10}),
     []),
    ("valid tags", _route({"revisionName": "foo", "percent": 100, "tag": "a"},
                          {"revisionName": "bar", "percent": 0, "tag": "b-2"}), []),
    ("empty route", _route(), [("spec.traffic", "Traffic targets sum to 0, want 100")]),
    ("not summing to 100", _route({"revisionName": "foo", "percent": 90}, {"revisionName": "bar", "percent": 20}),
     [("spec.traffic", "Traffic targets sum to 110, want 100")]),
    ("missing percent is 0", _route({"revisionName": "foo"}), [("spec.traffic", "Traffic targets sum to 0, want 100")]),
    ("negative percent", _route({"revisionName": "foo", "percent": -10}, {"revisionName": "bar", "percent": 110}),
     [("spec.traffic[0].percent", "expected 0 <= -10 <= 100"),
      ("spec.traffic[1].percent", "expected 0 <= 110 <= 100")]),
    ("both revision and configuration",
     _route({"revisionName": "foo", "configurationName": "bar", "percent": 100}),
     [("spec.traffic[0]", "expected exactly one, got both: revisionName, configurationName")]),
    ("neither revision nor configuration", _route({"percent": 100}),
     [("spec.traffic[0]", "expected exactly one, got neither: revisionName, configurationName")]),
    ("duplicate tags", _route({"revisionName": "foo", "percent": 50, "tag": "dup"},
                              {"revisionName": "bar", "percent": 50, "tag": "dup"}),
     [("spec.traffic[1].tag", 'Multiple definitions for "dup"')]),
    ("tag not DNS-1035", _route({"revisionName": "foo", "percent": 100, "tag": "1abc"}),
     [("spec.traffic[0].tag", "not a DNS 1035 label")]),
    ("tag with capitals", _route({"revisionName": "foo", "percent": 100, "tag": "Canary"}),
     [("spec.traffic[0].tag", "not a DNS 1035 label")]),
    ("tag too long", _route({"revisionName": "foo", "percent": 100, "tag": "a" * 64}),
     [("spec.traffic[0].tag", "must be no more than 63 characters")]),
    ("latestRevision true with a revision", _route({"revisionName": "foo", "latestRevision": True, "percent": 100}),
     [("spec.traffic[0].latestRevision", 'may not set revisionName "foo" when latestRevision is true')]),
    ("latestRevision false without a revision",
     _route({"configurationName": "bar", "latestRevision": False, "percent": 100}),
     [("spec.traffic[0].latestRevision", 'may not set revisionName "" when latestRevision is false')]),
    ("url in spec", _route({"revisionName": "foo", "percent": 100, "tag": "a", "url": "http://a-hello.default"}),
     [("spec.traffic[0].url", "must not set the field(s): url")]),
    ("bad revision name", _route({"revisionName": "foo bar", "percent": 100}),
     [("spec.traffic[0].revisionName", 'invalid key name "foo bar"')]),
    ("bad configuration name", _route({"configurationName": "-bar", "percent": 100}),
     [("spec.traffic[0].configurationName", 'invalid key name "-bar"')]),
    ("percent as a string", _route({"revisionName": "foo", "percent": "100"}),
     [("spec.traffic[0].percent", "must be an integer"), ("spec.traffic", "Traffic targets sum to 0, want 100")]),
    ("misspelled field", _route({"revisionName": "foo", "precent": 100}),
     [("spec.traffic[0].precent", 'unknown field (did you mean "percent"?)'),
      ("spec.traffic", "Traffic targets sum to 0, want 100")]),
    ("rollout annotation not a duration",
     {**_route({"revisionName": "foo", "percent": 100}),
      "metadata": {"name": "hello", "annotations": {"serving.knative.dev/rollout-duration": "soon"}}},
     [("metadata.annotations.serving.knative.dev/rollout-duration", "invalid value: soon")]),
    # ---- Service (service_validation_test.go) ----
    ("service without traffic", _service(), []),
    ("service split", _service({"revisionName": "hello-00001", "percent": 10, "tag": "v1"},
                               {"latestRevision": True, "percent": 90}), []),
    ("service target without revision follows latest", _service({"percent": 100}), []),
    ("configurationName not allowed in a service", _service({"configurationName": "hello", "percent": 100}),
     [("spec.traffic[0].configurationName", "must not set the field(s): configurationName")]),
    ("service revision of another service", _service({"revisionName": "other-00001", "percent": 100}),
     [("spec.traffic[0].revisionName", 'revision "other-00001" is not a revision of Service "hello"')]),
    ("service traffic sum", _service({"latestRevision": True, "percent": 50}),
     [("spec.traffic", "Traffic targets sum to 50, want 100")]),
    ("BYO name without the service prefix", _service(template={**TEMPLATE, "metadata": {"name": "foo-00002"}}),
     [("spec.template.metadata.name", '"foo-00002" must have prefix "hello-"')]),
    ("BYO name with the prefix", _service(template={**TEMPLATE, "metadata": {"name": "hello-v2"}}), []),
    ("BYO name not a DNS-1035 label", _service(template={**TEMPLATE, "metadata": {"name": "hello_v2"}}),
     [("spec.template.metadata.name", "not a DNS 1035 label")]),
    ("no containers", _service(template={"spec": {}}),
     [("spec.template.spec.containers", "missing field(s): containers")]),
    ("no image", _service(template={"spec": {"containers": [{"name": "a"}]}}),
     [("spec.template.spec.containers[0].image", "missing field(s): image")]),
    ("container port out of range",
     _service(template={"spec": {"containers": [{"image": "x", "ports": [{"containerPort": 70000}]}]}}),
     [("spec.template.spec.containers[0].ports[0].containerPort", "expected 1 <= 70000 <= 65535")]),
    ("two container ports", _service(template={"spec": {"containers": [
        {"image": "x", "ports": [{"containerPort": 8080}, {"containerPort": 9090}]}]}}),
     [("spec.template.spec.containers", "more than one container port is set")]),
    ("unknown container field is a warning", _service(template={"spec": {"containers": [
        {"image": "x", "imagePullPolicyy": "Always"}]}}),
     [("W", "spec.template.spec.containers[0].imagePullPolicyy", "unknown field")]),
    ("unknown spec field", {**_service(), "spec": {"template": TEMPLATE, "trafic": []}},
     [("spec.trafic", 'unknown field (did you mean "traffic"?)')]),
    ("rollout duration",
     {**_service(), "metadata": {"name": "hello", "annotations": {"serving.knative.dev/rollout-duration": "20s"}}},
     []),
    ("rollout duration below seconds",
     {**_service(), "metadata": {"name": "hello", "annotations": {"serving.knative.dev/rollout-duration": "1500ms"}}},
     [("metadata.annotations.serving.knative.dev/rollout-duration",
       "rollout-duration=1500ms is not at second precision")]),
    # ---- Configuration and Revision ----
    ("configuration", _doc("Configuration", {"template": TEMPLATE}), []),
    ("configuration without template", _doc("Configuration", {}), [("spec.template", "missing field(s): template")]),
    ("revision", _doc("Revision", TEMPLATE["spec"], name="hello-00001"), []),
    ("revision without containers", _doc("Revision", {}, name="hello-00001"),
     [("spec.containers", "missing field(s): containers")]),
]


@pytest.mark.parametrize("name,doc,expected", CASES, ids=[c[0] for c in CASES])
def test_knative_validation(name: str, doc: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    resource, findings = check_document(doc, Origin("kn.yaml", 1))
    assert resource is not None, findings
    assert resource.kind.startswith("Knative")
    assert_findings(findings, expected)


def test_knative_service_is_not_a_kubernetes_service() -> None:
    """Same kind name, another API group: own key, own validator, never read as a Kubernetes Service."""
    kn = resource_from_document(_service())
    k8s = resource_from_document({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello"},
                                  "spec": {"ports": [{"port": 80}]}})
    assert (kn.kind, k8s.kind) == ("KnativeService", "Service")
    assert kn.key != k8s.key
    assert validate_resource(kn) == [] and validate_resource(k8s) == []


def test_wrong_version_is_reported_with_knative_kind_name() -> None:
    doc = {**_service(), "apiVersion": "serving.knative.dev/v1beta1"}
    _, findings = check_document(doc, Origin("kn.yaml", 1))
    assert [f.message for f in findings] == [
        "apiVersion serving.knative.dev/v1beta1 is not served for Service (served: serving.knative.dev/v1)"]
