"""Bugs property-based fuzzing found (tests/fuzz/test_fuzz_pipeline.py), one regression test each."""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import pytest

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


REVIEWS = "reviews.default.svc.cluster.local"


def _dr(traffic_policy: str) -> str:
    return ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\n"
            f"spec: {{host: reviews, trafficPolicy: {traffic_policy}}}\n")


def _vs(route: str, extra: str = "") -> str:
    return ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\n"
            f"spec: {{hosts: [reviews], http: [{{route: {route}{extra}}}]}}\n")


@pytest.mark.parametrize("text, field", [
    # Each reached translation and raised "Value out of range" writing a UInt32Value.
    (_dr("{connectionPool: {tcp: {maxConnections: 1099511627776}}}"),
     "spec.trafficPolicy.connectionPool.tcp.maxConnections"),
    (_dr("{outlierDetection: {consecutive5xxErrors: 4294967296}}"),
     "spec.trafficPolicy.outlierDetection.consecutive5xxErrors"),
    (_vs("[{destination: {host: reviews}}]", ", retries: {attempts: 1099511627776}"), "spec.http[0].retries.attempts"),
    (_vs("[{destination: {host: reviews}, weight: 4294967296}, {destination: {host: ratings}}]"),
     "spec.http[0].route[0].weight"),
])
def test_integers_beyond_uint32_are_rejected_not_translated(text: str, field: str) -> None:
    assert any(e.startswith(f"{field}: ") and "out of range" in e for e in _errors(text))
    assert not any("out of range" in e for e in _errors(text.replace("1099511627776", "4294967295")
                                                          .replace("4294967296", "4294967295")))


def test_total_route_weight_must_fit_in_uint32() -> None:
    # Envoy refused the route ("sum of weights ... exceeds 4294967295"): a NACK for a config we accepted.
    text = _vs("[{destination: {host: reviews}, weight: 4294967295}, {destination: {host: ratings}, weight: 1}]")
    assert _errors(text) == ["spec.http[0].route: total destination weight 4294967296 exceeds 4294967295"]


def test_durations_beyond_protobuf_range_are_rejected() -> None:
    # Translation wrote a Duration of 3.6e17 s, which no Envoy (or protobuf JSON) accepts.
    assert _errors(_vs("[{destination: {host: reviews}}]", ", timeout: 99999999999999h")) == [
        "spec.http[0].timeout: duration must be at most 315576000000s (protobuf's limit, about 10,000 years)"]


def test_ring_hash_size_beyond_envoy_limit_is_rejected() -> None:
    text = _dr("{loadBalancer: {consistentHash: {httpHeaderName: x, ringHash: {minimumRingSize: 8388609}}}}")
    assert _errors(text) == ["spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize: "
                             "minimum ring size 8388609 is not in range 0..8388608"]


def test_retry_budget_percent_is_a_plain_number() -> None:
    # Istio's RetryBudget.percent is a DoubleValue (`percent: 25`); translation read it as {value: ..}
    # and raised AttributeError on every DestinationRule with a retry budget.
    from envoy.config.cluster.v3 import cluster_pb2

    from pilot.model.proxy import NodeId
    from pilot.testing.fuzz_pipeline import fuzz_mesh
    from pilot.translate.generate import CLUSTER, generate

    assert _errors(_dr("{retryBudget: {percent: 150}}")) == [
        "spec.trafficPolicy.retryBudget.percent: retry budget percent 150 is not in range 0..100"]
    mesh, proxies = fuzz_mesh()
    rule = _dr("{retryBudget: {percent: 25, minRetryConcurrency: 7}}")
    docs = resources_from_yaml(mesh.yaml()) + resources_from_yaml(rule.replace("reviews", REVIEWS))
    snap = build_snapshot(docs)
    out = generate(snap, snap.proxy_view(NodeId.parse(proxies[0].node_id)))
    cluster = cluster_pb2.Cluster()
    out[CLUSTER]["outbound|9080||reviews.default.svc.cluster.local"].Unpack(cluster)
    budget = cluster.circuit_breakers.thresholds[0].retry_budget
    assert (budget.budget_percent.value, budget.min_retry_concurrency.value) == (25.0, 7)


def _routing(http: str) -> str:
    return ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\n"
            f"spec: {{hosts: [reviews], http: [{http}]}}\n")


@pytest.mark.parametrize("text, field", [
    # Each was accepted and made Envoy refuse the route table, JWT filter or rate limit filter:
    # "value does not match regex pattern ^[^\x00\n\r]*$" / "value length must be at most 16384 bytes".
    (_routing('{route: [{destination: {host: reviews}}], rewrite: {uri: "/a\\nb"}}'), "spec.http[0].rewrite.uri"),
    (_routing('{redirect: {authority: "a\\rb"}}'), "spec.http[0].redirect.authority"),
    (_routing('{route: [{destination: {host: reviews}}], headers: {request: {set: {x-a: ' + "a" * 17000 + "}}}}"),
     "spec.http[0].headers.request.set.x-a"),
    ("apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: r}\nspec: {jwtRules: ["
     '{issuer: i, jwksUri: "https://i.example.com/k", fromHeaders: [{name: x-jwt, prefix: "a\\u0000"}]}]}\n',
     "spec.jwtRules[0].fromHeaders[0].prefix"),
    ("apiVersion: policy.meshpilot.io/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: r}\nspec: {rules: ["
     '{name: a, limit: {tokens: 1, fillInterval: 1s}, response: {status: 429, headers: {x-rl: "a\\nb"}}}]}\n',
     "spec.rules[0].response.headers.x-rl"),
])
def test_control_characters_and_huge_values_envoy_refuses_are_rejected(text: str, field: str) -> None:
    assert any(e.startswith(f"{field}: ") for e in _errors(text)), _errors(text)


def test_direct_response_bodies_up_to_istios_limit_reach_envoy() -> None:
    # Istio allows 1 MB; Envoy's route table limit is 4 KB unless raised, and it refused a 5 KB body.
    from pilot.testing.envoy_static import validate_all
    from pilot.testing.fuzz_pipeline import FuzzPipeline

    body = "b" * 5000
    text = _routing(f"{{directResponse: {{status: 200, body: {{string: {body}}}}}}}")
    assert _errors(text) == []
    with tempfile.TemporaryDirectory() as tmp:
        out = FuzzPipeline(Path(tmp)).run(text)
    assert out.accepted and validate_all([res for _, res in out.translated]) == []


def test_empty_query_parameter_name_is_rejected() -> None:
    # Envoy refused the route table: "QueryParameterMatcherValidationError.Name: value length must be at
    # least 1 characters".
    text = _routing('{match: [{queryParams: {"": {exact: x}}}], route: [{destination: {host: reviews}}]}')
    assert _errors(text) == ['spec.http[0].match[0].queryParams.: query parameter name must not be empty']


def test_service_entry_listing_an_address_twice_keeps_envoy_accepting_the_routes() -> None:
    # The address became a domain twice in one virtual host and Envoy refused the whole route table 9080
    # ("Only unique values for domains are permitted").
    from pilot.testing.envoy_static import validate_all
    from pilot.testing.fuzz_pipeline import FuzzPipeline

    text = ("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec: {hosts: [db.internal], "
            "addresses: [2001:db8::/32, 2001:db8::/32], ports: [{number: 9080, name: grpc, protocol: GRPC}], "
            "location: MESH_EXTERNAL, resolution: NONE}\n")
    with tempfile.TemporaryDirectory() as tmp:
        out = FuzzPipeline(Path(tmp)).run(text)
    assert out.accepted and validate_all([res for _, res in out.translated]) == []


def test_endpoint_slice_port_null_falls_back_to_the_target_port() -> None:
    # `port:` with no value passed validation and int(None) raised in the registry.
    docs = ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{name: http, port: 80, "
            "targetPort: 8080}]}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: w, "
            "labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints: [{addresses: [10.0.0.6]}]\n"
            "ports: [{name: http, port: null}]\n")
    snap = build_snapshot(resources_from_yaml(docs))
    assert [(e.address, e.port) for e in snap.service_endpoints("web.default.svc.cluster.local", 80)] == [
        ("10.0.0.6", 8080)]
