"""Bugs property-based fuzzing found (tests/fuzz/test_fuzz_pipeline.py), one regression test each."""

from __future__ import annotations

import datetime

from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.sources.yaml_files import load_file_text
from pilot.validation import validate_document, validate_resource


def _errors(text: str) -> list[str]:
    loaded = load_file_text(text, "f.yaml", validate_document)
    found = [f for f in loaded.findings if f.is_error]
    for res in loaded.resources:
        found += [f for f in validate_resource(res) if f.is_error]
    return [f"{f.field}: {f.message}" for f in found]


def test_labels_that_are_not_a_map_are_a_finding_not_a_loader_crash() -> None:
    # resource_from_document called .items() on `labels: '80'` and the file source died.
    errors = _errors("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: '80'}\n")
    assert errors == ["metadata.labels: must be an object"]


def test_label_syntax_is_checked_on_every_kind() -> None:
    # EndpointSlice (and Istio kinds) took any label value, even a map, into the snapshot.
    text = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s\n  labels:\n"
            "    kubernetes.io/service-name: {k: 1}\naddressType: IPv4\nendpoints: []\n")
    assert any(e.startswith("metadata.labels.kubernetes.io/service-name: invalid tag value") for e in _errors(text))
    vs = ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, labels: {a: 'b c'}}\n"
          "spec: {hosts: [r], http: [{route: [{destination: {host: r}}]}]}\n")
    assert _errors(vs) == ["metadata.labels.a: invalid tag value: 'b c'"]


def test_snapshot_digest_takes_keys_of_any_type() -> None:
    # json.dumps(sort_keys=True) raised on {1: .., "b": ..} and on date keys: the snapshot build crashed.
    res = resources_from_yaml("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: e}\n"
                              "spec: {configPatches: [{applyTo: CLUSTER, patch: {operation: MERGE, value: "
                              "{1: a, b: c, 2024-01-01: d}}}]}\n")
    assert isinstance(list(res[0].spec["configPatches"][0]["patch"]["value"])[2], datetime.date)
    assert build_snapshot(res).version


def test_malformed_pod_containers_and_slice_items_do_not_crash_the_registry() -> None:
    # A string container, a null EndpointSlice port or endpoint reached the registry and raised there.
    docs = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: web}}
spec: {containers: ["\\x7F", {name: c, ports: [null, {containerPort: x}, {containerPort: 8080}]}]}
status: {podIP: 10.0.0.5}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [null, {addresses: [10.0.0.6], conditions: 2}]
ports: [null]
"""
    snap = build_snapshot(resources_from_yaml(docs))
    assert [e.address for e in snap.service_endpoints("web.default.svc.cluster.local", 80)] == ["10.0.0.6"]
    assert snap.workload("default", "10.0.0.5").container_ports == (8080,)  # type: ignore[union-attr]
