"""Selectors match Pods without `status.podIP`; host, subset and conflict lookups honour `exportTo`."""

from __future__ import annotations

import pytest

from tests.unit.analysis.kit import MESH, codes, vs

MESH_WITHOUT_DR = MESH[:MESH.index("---\napiVersion: networking.istio.io/v1\nkind: DestinationRule")]

PENDING_V3 = """
apiVersion: v1
kind: Pod
metadata: {name: reviews-v3-0, namespace: default, labels: {app: reviews, version: v3}}
spec: {containers: [{name: app, image: none}]}
"""
DR_V3 = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-v3, namespace: default}
spec: {host: reviews, subsets: [{name: v3, labels: {version: v3}}]}
"""
SIDECAR_V3 = """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: v3, namespace: default}
spec: {workloadSelector: {labels: {version: v3}}, egress: [{hosts: ["./*"]}]}
"""
AP_V3 = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: v3, namespace: default}
spec: {selector: {matchLabels: {version: v3}}, action: ALLOW, rules: [{}]}
"""


@pytest.mark.parametrize(("extra", "expected"), [
    # a Pod without an IP still selects: no IST0173, IST0101, IST0127
    (PENDING_V3 + "---\n" + DR_V3, []),
    (PENDING_V3 + "---\n" + SIDECAR_V3, []),
    (PENDING_V3 + "---\n" + AP_V3, []),
    # without it they are findings
    (DR_V3, [("IST0173", "DestinationRule default/reviews-v3")]),
    (SIDECAR_V3, [("IST0101", "Sidecar default/v3")]),
    (AP_V3, [("IST0127", "AuthorizationPolicy default/v3")]),
])
def test_pods_without_ip_are_workloads(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra) == expected


def _se(namespace: str, export: str) -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: ext, namespace: {namespace}}}
spec: {{hosts: [api.example.com], exportTo: {export}, ports: [{{number: 443, name: https, protocol: HTTPS}}],
        resolution: DNS}}
"""


TO_EXT = "http: [{route: [{destination: {host: api.example.com}}]}]"
TO_V1 = "http: [{route: [{destination: {host: reviews.default.svc.cluster.local, subset: v1}}]}]"
PRIVATE_SVC = """
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default, annotations: {networking.istio.io/exportTo: "."}}
spec: {selector: {app: ratings}, ports: [{name: http, port: 9080}]}
"""


@pytest.mark.parametrize(("extra", "expected"), [
    # a ServiceEntry exported only to its own namespace is not found from another one
    (_se("infra", '["."]') + "---\n" + vs("r", TO_EXT, hosts="[api.example.com]", namespace="web"),
     [("IST0101", "VirtualService web/r")]),
    (_se("infra", '["."]') + "---\n" + vs("r", TO_EXT, hosts="[api.example.com]", namespace="infra"), []),
    (_se("infra", "[web]") + "---\n" + vs("r", TO_EXT, hosts="[api.example.com]", namespace="web"), []),
    (_se("infra", '["*"]') + "---\n" + vs("r", TO_EXT, hosts="[api.example.com]", namespace="web"), []),
    # a Service exported with the annotation to its own namespace only
    (PRIVATE_SVC + "---\n" + vs("r", "http: [{route: [{destination: {host: ratings.default.svc.cluster.local}}]}]",
                                hosts="[ratings.default.svc.cluster.local]", namespace="web"),
     [("IST0101", "VirtualService web/r")]),
    (vs("r", TO_V1, hosts="[reviews.default.svc.cluster.local]", namespace="web"), []),
    # two mesh VirtualServices for one host, each exported to its own namespace only: no conflict
    (vs("a", TO_V1, hosts="[reviews.default.svc.cluster.local]", extra='\n  exportTo: ["."]', namespace="web")
     + "---\n" + vs("b", TO_V1, hosts="[reviews.default.svc.cluster.local]", extra='\n  exportTo: ["."]',
                    namespace="shop"), []),
    # ... and exported to the same namespace: conflict
    (vs("a", TO_V1, hosts="[reviews.default.svc.cluster.local]", extra="\n  exportTo: [web]", namespace="web")
     + "---\n" + vs("b", TO_V1, hosts="[reviews.default.svc.cluster.local]", extra="\n  exportTo: [web]",
                    namespace="shop"),
     [("IST0109", "VirtualService shop/b"), ("IST0109", "VirtualService web/a")]),
])
def test_export_to(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra) == expected


PRIVATE_DR = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, exportTo: ["."], subsets: [{name: v1, labels: {version: v1}}]}
"""


@pytest.mark.parametrize(("namespace", "expected"), [("web", [("IST0101", "VirtualService web/r")]), ("default", [])])
def test_subset_of_destination_rule_exported_elsewhere_is_not_found(namespace: str,
                                                                    expected: list[tuple[str, str]]) -> None:
    extra = PRIVATE_DR + "---\n" + vs("r", TO_V1, hosts="[reviews.default.svc.cluster.local]", namespace=namespace)
    assert codes(extra, base=MESH_WITHOUT_DR) == expected
