"""AuthorizationPolicy analyzers: selectors with no workload (IST0127), unknown namespaces, principals and
ports (IST0101)."""

from __future__ import annotations

import pytest

from tests.unit.analysis.kit import codes, findings

AP = "AuthorizationPolicy default/ap"


def ap(rules: str, selector: str = "{matchLabels: {app: reviews}}", namespace: str = "default") -> str:
    sel = f"selector: {selector}, " if selector else ""
    return f"""
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: ap, namespace: {namespace}}}
spec: {{{sel}action: ALLOW, rules: {rules}}}
"""


@pytest.mark.parametrize(("extra", "expected"), [
    (ap("[{}]"), []),
    (ap("[{}]", selector="{matchLabels: {app: nothing}}"), [("IST0127", AP)]),
    # namespace-wide: needs a Pod in the namespace
    (ap("[{}]", selector=""), []),
    (ap("[{}]", selector="", namespace="empty"), [("IST0127", "AuthorizationPolicy empty/ap")]),
    # root namespace, selector: any Pod in the mesh; no selector: never a finding
    (ap("[{}]", namespace="istio-system"), []),
    (ap("[{}]", selector="", namespace="istio-system"), []),
    # source namespaces must exist (patterns as Istio matches them)
    (ap("[{from: [{source: {namespaces: [default]}}]}]"), []),
    (ap("[{from: [{source: {namespaces: [nosuch]}}]}]"), [("IST0101", AP)]),
    (ap("[{from: [{source: {notNamespaces: [nosuch]}}]}]"), [("IST0101", AP)]),
    (ap('[{from: [{source: {namespaces: ["def*", "*ult", "*"]}}]}]'), []),
    # principals of this trust domain must name a service account some workload runs as
    (ap("[{from: [{source: {principals: [cluster.local/ns/default/sa/bookinfo-reviews]}}]}]"), []),
    (ap("[{from: [{source: {principals: [cluster.local/ns/default/sa/typo]}}]}]"), [("IST0101", AP)]),
    (ap('[{from: [{source: {principals: ["cluster.local/ns/default/sa/*", other.domain/ns/x/sa/y]}}]}]'), []),
    # ports are the selected workloads' ports
    (ap('[{to: [{operation: {ports: ["9080"]}}]}]'), []),
    (ap('[{to: [{operation: {ports: ["8080"]}}]}]'), [("IST0101", AP)]),
    (ap('[{to: [{operation: {notPorts: ["8080"]}}]}]'), [("IST0101", AP)]),
])
def test_authorization_policy_findings(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra) == expected


def test_messages_and_fields() -> None:
    got = sorted((f.field, f.message) for f in findings(
        ap('[{from: [{source: {namespaces: [nosuch], principals: [cluster.local/ns/default/sa/typo]}}], '
           'to: [{operation: {ports: ["8080"]}}]}]')))
    assert got == [
        ("spec.rules[0].from[0].source.namespaces[0]", 'Referenced namespace not found: "nosuch"'),
        ("spec.rules[0].from[0].source.principals[0]",
         'Referenced principal not found: "cluster.local/ns/default/sa/typo"'),
        ("spec.rules[0].to[0].operation.ports[0]", 'Referenced port not found: "8080"'),
    ]
