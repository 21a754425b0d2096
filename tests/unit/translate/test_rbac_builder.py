"""AuthorizationPolicy -> Envoy RBAC: golden structure per field, action order, TCP asymmetry, edge cases."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.extensions.filters.http.rbac.v3.rbac_pb2 import RBAC as HttpRBAC
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import HttpFilter
from envoy.extensions.filters.network.rbac.v3.rbac_pb2 import RBAC as NetworkRBAC
from google.protobuf import json_format

from pilot.model.findings import Finding
from pilot.model.resource import Resource, resource_from_document
from pilot.translate.rbac import (
    CUSTOM_UNSUPPORTED,
    build_http_rbac_filters,
    build_network_rbac_filters,
)

ANY_ID = {"any": True}


def ap(
    name: str = "p",
    ns: str = "default",
    action: str | None = None,
    rules: list[Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> Resource:
    spec: dict[str, Any] = {}
    if action:
        spec["action"] = action
    if rules is not None:
        spec["rules"] = rules
    return resource_from_document(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
            "spec": spec,
        }
    )


def http_rbac(flt: HttpFilter) -> dict[str, Any]:
    assert flt.name == "envoy.filters.http.rbac"
    cfg = HttpRBAC()
    assert flt.typed_config.Unpack(cfg)
    return json_format.MessageToDict(cfg)


def only_policy(policies: dict[str, list[Resource]], trust_domain: str = "cluster.local") -> dict[str, Any]:
    filters = build_http_rbac_filters(policies, trust_domain)
    assert len(filters) == 1
    got = http_rbac(filters[0])["rules"]["policies"]
    assert len(got) == 1
    return next(iter(got.values()))


def principal_of(source: dict[str, Any], trust_domain: str = "cluster.local") -> dict[str, Any]:
    """The AND list of the single principal generated from one `from.source`."""
    pol = only_policy({"ALLOW": [ap(rules=[{"from": [{"source": source}]}])]}, trust_domain)
    assert pol["permissions"] == [{"andRules": {"rules": [ANY_ID]}}]
    assert len(pol["principals"]) == 1
    return pol["principals"][0]["andIds"]["ids"]


def permission_of(operation: dict[str, Any]) -> list[dict[str, Any]]:
    pol = only_policy({"ALLOW": [ap(rules=[{"to": [{"operation": operation}]}])]})
    assert pol["principals"] == [{"andIds": {"ids": [ANY_ID]}}]
    return pol["permissions"][0]["andRules"]["rules"]


def auth(matcher: dict[str, Any]) -> dict[str, Any]:
    return {"authenticated": {"principalName": matcher}}


def any_of(*ids: dict[str, Any]) -> dict[str, Any]:
    return {"orIds": {"ids": list(ids)}}


def any_rule(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"orRules": {"rules": list(rules)}}


# ---- from.source -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "matcher"),
    [
        ("cluster.local/ns/default/sa/sleep", {"exact": "spiffe://cluster.local/ns/default/sa/sleep"}),
        ("cluster.local/ns/default/*", {"prefix": "spiffe://cluster.local/ns/default/"}),
        ("*/sa/sleep", {"safeRegex": {"regex": "spiffe://.*/sa/sleep"}}),
        ("*", {"safeRegex": {"regex": ".+"}}),
    ],
)
def test_principals(value: str, matcher: dict[str, Any]) -> None:
    assert principal_of({"principals": [value]}) == [any_of(auth(matcher))]


def test_principals_in_the_default_trust_domain_follow_the_mesh_trust_domain() -> None:
    got = principal_of({"principals": ["cluster.local/ns/a/sa/b", "other.org/ns/a/sa/b"]}, "example.org")
    assert got == [
        any_of(
            auth({"exact": "spiffe://example.org/ns/a/sa/b"}), auth({"exact": "spiffe://other.org/ns/a/sa/b"})
        )
    ]


def test_not_principals_and_namespaces() -> None:
    got = principal_of({"notPrincipals": ["cluster.local/ns/x/sa/y"], "namespaces": ["foo", "te*t"]})
    assert got == [
        {"notId": any_of(auth({"exact": "spiffe://cluster.local/ns/x/sa/y"}))},
        any_of(
            auth({"safeRegex": {"regex": ".*/ns/foo/.*"}}), auth({"safeRegex": {"regex": ".*/ns/te.*t/.*"}})
        ),
    ]


def test_ip_blocks_and_remote_ip_blocks() -> None:
    got = principal_of(
        {
            "ipBlocks": ["127.0.0.9", "10.0.0.0/8"],
            "notIpBlocks": ["10.1.0.0/16"],
            "remoteIpBlocks": ["192.168.1.1"],
            "notRemoteIpBlocks": ["2001:db8::/32"],
        }
    )
    assert got == [
        any_of({"remoteIp": {"addressPrefix": "192.168.1.1", "prefixLen": 32}}),
        {"notId": any_of({"remoteIp": {"addressPrefix": "2001:db8::", "prefixLen": 32}})},
        any_of(
            {"directRemoteIp": {"addressPrefix": "127.0.0.9", "prefixLen": 32}},
            {"directRemoteIp": {"addressPrefix": "10.0.0.0", "prefixLen": 8}},
        ),
        {"notId": any_of({"directRemoteIp": {"addressPrefix": "10.1.0.0", "prefixLen": 16}})},
    ]


def jwt(claim: str, matcher: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {
            "filter": "envoy.filters.http.jwt_authn",
            "path": [{"key": "payload"}, {"key": claim}],
            "value": {"stringMatch": matcher},
        }
    }


@pytest.mark.parametrize(
    ("value", "iss", "sub"),
    [
        ("https://issuer.example/alice", {"exact": "https://issuer.example"}, {"exact": "alice"}),
        ("*", {"safeRegex": {"regex": ".+"}}, {"safeRegex": {"regex": ".+"}}),
        ("https://issuer.example/*", {"exact": "https://issuer.example"}, {"safeRegex": {"regex": ".+"}}),
        ("*/alice", {"safeRegex": {"regex": ".+"}}, {"exact": "alice"}),
        ("*@example.com", {"safeRegex": {"regex": ".+"}}, {"suffix": "@example.com"}),
    ],
)
def test_request_principals(value: str, iss: dict[str, Any], sub: dict[str, Any]) -> None:
    got = principal_of({"requestPrincipals": [value]})
    assert got == [any_of({"andIds": {"ids": [jwt("iss", iss), jwt("sub", sub)]}})]


def test_not_request_principals() -> None:
    got = principal_of({"notRequestPrincipals": ["*"]})
    assert got == [
        {
            "notId": any_of(
                {
                    "andIds": {
                        "ids": [
                            jwt("iss", {"safeRegex": {"regex": ".+"}}),
                            jwt("sub", {"safeRegex": {"regex": ".+"}}),
                        ]
                    }
                }
            )
        }
    ]


def test_source_fields_are_anded_in_a_fixed_order() -> None:
    got = principal_of({"ipBlocks": ["127.0.0.1"], "namespaces": ["ns"], "principals": ["td/ns/a/sa/b"]})
    assert [next(iter(x["orIds"]["ids"][0])) for x in got] == [
        "authenticated",
        "authenticated",
        "directRemoteIp",
    ]
    assert got[0] == any_of(auth({"exact": "spiffe://td/ns/a/sa/b"}))


# ---- to.operation ----------------------------------------------------------------------------------
def test_methods_hosts_ports() -> None:
    got = permission_of(
        {
            "hosts": ["Reviews.default", "*.example.com"],
            "methods": ["GET", "POST"],
            "ports": ["9080"],
            "notMethods": ["DELETE"],
        }
    )
    assert got == [
        any_rule(
            {
                "header": {
                    "name": ":authority",
                    "stringMatch": {"exact": "Reviews.default", "ignoreCase": True},
                }
            },
            {"header": {"name": ":authority", "stringMatch": {"suffix": ".example.com", "ignoreCase": True}}},
        ),
        any_rule(
            {"header": {"name": ":method", "stringMatch": {"exact": "GET"}}},
            {"header": {"name": ":method", "stringMatch": {"exact": "POST"}}},
        ),
        {"notRule": any_rule({"header": {"name": ":method", "stringMatch": {"exact": "DELETE"}}})},
        any_rule({"destinationPort": 9080}),
    ]


@pytest.mark.parametrize(
    ("value", "matcher"),
    [
        ("/admin", {"path": {"exact": "/admin"}}),
        ("/api/*", {"path": {"prefix": "/api/"}}),
        ("*.png", {"path": {"suffix": ".png"}}),
        ("*", {"path": {"safeRegex": {"regex": ".+"}}}),
    ],
)
def test_paths(value: str, matcher: dict[str, Any]) -> None:
    assert permission_of({"paths": [value]}) == [any_rule({"urlPath": matcher})]


def test_not_paths_and_path_templates() -> None:
    got = permission_of({"notPaths": ["/healthz"], "paths": ["/v1/{*}/items/{**}"]})
    assert got[1] == {"notRule": any_rule({"urlPath": {"path": {"exact": "/healthz"}}})}
    template = got[0]["orRules"]["rules"][0]["uriTemplate"]
    assert template["name"] == "uri-template"
    assert template["typedConfig"]["pathTemplate"] == "/v1/*/items/**"


# ---- when ------------------------------------------------------------------------------------------
def test_when_conditions_join_both_sides() -> None:
    rule = {
        "from": [{"source": {"namespaces": ["a"]}}],
        "to": [{"operation": {"methods": ["GET"]}}],
        "when": [
            {"key": "request.headers[x-token]", "values": ["secret*"]},
            {"key": "source.ip", "notValues": ["127.0.0.66"]},
            {"key": "source.namespace", "values": ["a"]},
            {"key": "source.principal", "values": ["cluster.local/ns/a/sa/b"]},
            {"key": "destination.port", "values": ["8080"]},
            {"key": "connection.sni", "values": ["*.svc"]},
        ],
    }
    pol = only_policy({"ALLOW": [ap(rules=[rule])]})
    assert pol["principals"][0]["andIds"]["ids"] == [
        any_of(auth({"safeRegex": {"regex": ".*/ns/a/.*"}})),
        any_of({"header": {"name": "x-token", "stringMatch": {"prefix": "secret"}}}),
        {"notId": any_of({"directRemoteIp": {"addressPrefix": "127.0.0.66", "prefixLen": 32}})},
        any_of(auth({"safeRegex": {"regex": ".*/ns/a/.*"}})),
        any_of(auth({"exact": "spiffe://cluster.local/ns/a/sa/b"})),
    ]
    assert pol["permissions"][0]["andRules"]["rules"] == [
        any_rule({"header": {"name": ":method", "stringMatch": {"exact": "GET"}}}),
        any_rule({"destinationPort": 8080}),
        any_rule({"requestedServerName": {"suffix": ".svc"}}),
    ]


def test_multiple_from_and_to_entries_are_ored() -> None:
    rule = {
        "from": [{"source": {"namespaces": ["a"]}}, {"source": {"namespaces": ["b"]}}],
        "to": [{"operation": {"ports": ["1"]}}, {"operation": {"ports": ["2"]}}],
        "when": [{"key": "destination.port", "values": ["3"]}],
    }
    pol = only_policy({"ALLOW": [ap(rules=[rule])]})
    assert len(pol["principals"]) == 2 and len(pol["permissions"]) == 2
    assert pol["permissions"][1]["andRules"]["rules"] == [
        any_rule({"destinationPort": 2}),
        any_rule({"destinationPort": 3}),
    ]


# ---- policies, actions, order ----------------------------------------------------------------------
def test_policy_names_and_rule_indexes() -> None:
    filters = build_http_rbac_filters(
        {"ALLOW": [ap("p1", "ns1", rules=[{}, {}]), ap("p2", "ns2", rules=[{}])]}
    )
    assert sorted(http_rbac(filters[0])["rules"]["policies"]) == [
        "ns[ns1]-policy[p1]-rule[0]",
        "ns[ns1]-policy[p1]-rule[1]",
        "ns[ns2]-policy[p2]-rule[0]",
    ]


def test_order_is_audit_deny_allow_with_log_action() -> None:
    filters = build_http_rbac_filters(
        {"ALLOW": [ap("a", rules=[{}])], "DENY": [ap("d", rules=[{}])], "AUDIT": [ap("l", rules=[{}])]}
    )
    actions = [http_rbac(f)["rules"].get("action", "ALLOW") for f in filters]
    assert actions == ["LOG", "DENY", "ALLOW"]
    names = [next(iter(http_rbac(f)["rules"]["policies"])) for f in filters]
    assert names == [
        "ns[default]-policy[l]-rule[0]",
        "ns[default]-policy[d]-rule[0]",
        "ns[default]-policy[a]-rule[0]",
    ]


def test_no_policies_no_filters() -> None:
    assert build_http_rbac_filters({"ALLOW": [], "DENY": []}) == []
    assert build_network_rbac_filters({}) == []


def test_empty_allow_policy_matches_nothing_and_empty_rule_matches_everything() -> None:
    never = only_policy({"ALLOW": [ap("deny-all")]})
    assert never == {"permissions": [{"notRule": ANY_ID}], "principals": [{"notId": ANY_ID}]}
    always = only_policy({"ALLOW": [ap("allow-all", rules=[{}])]})
    assert always == {
        "permissions": [{"andRules": {"rules": [ANY_ID]}}],
        "principals": [{"andIds": {"ids": [ANY_ID]}}],
    }


def test_custom_is_refused_with_a_finding_and_fails_closed() -> None:
    findings: list[Finding] = []
    custom = ap("ext", action="CUSTOM", rules=[{"to": [{"operation": {"paths": ["/x"]}}]}])
    filters = build_http_rbac_filters({"CUSTOM": [custom]}, findings=findings)
    assert [f.message for f in findings] == [CUSTOM_UNSUPPORTED]
    assert findings[0].is_error and findings[0].field == "spec.action"
    rules = http_rbac(filters[0])["rules"]
    assert rules["action"] == "DENY"
    assert list(rules["policies"]) == ["ns[default]-policy[ext]-rule[0]-deny-unsupported-CUSTOM"]


def test_dry_run_goes_to_shadow_rules() -> None:
    dry = ap("dry", action="DENY", rules=[{}], annotations={"istio.io/dry-run": "true"})
    cfg = http_rbac(build_http_rbac_filters({"DENY": [dry]})[0])
    assert "rules" not in cfg
    assert cfg["shadowRules"]["action"] == "DENY"
    assert cfg["shadowRulesStatPrefix"] == "istio_dry_run_deny_"


# ---- TCP: HTTP-only fields -------------------------------------------------------------------------
def network_rbac(filters: list[Any]) -> list[dict[str, Any]]:
    out = []
    for f in filters:
        assert f.name == "envoy.filters.network.rbac"
        cfg = NetworkRBAC()
        assert f.typed_config.Unpack(cfg)
        d = json_format.MessageToDict(cfg)
        assert d["statPrefix"] == "tcp."
        out.append(d)
    return out


HTTP_ONLY_RULE = {
    "from": [{"source": {"ipBlocks": ["127.0.0.9"]}}],
    "to": [{"operation": {"paths": ["/admin"]}}],
}


def test_tcp_allow_drops_the_whole_rule_with_http_only_fields() -> None:
    findings: list[Finding] = []
    allow = ap("a", rules=[HTTP_ONLY_RULE, {"to": [{"operation": {"ports": ["9000"]}}]}])
    (cfg,) = network_rbac(build_network_rbac_filters({"ALLOW": [allow]}, findings=findings))
    assert list(cfg["rules"]["policies"]) == ["ns[default]-policy[a]-rule[1]"]
    assert any("'paths' is HTTP only" in f.message and f.field == "spec.rules[0]" for f in findings)


def test_tcp_allow_with_only_http_rules_allows_nothing() -> None:
    (cfg,) = network_rbac(build_network_rbac_filters({"ALLOW": [ap("a", rules=[HTTP_ONLY_RULE])]}))
    assert cfg["rules"].get("policies", {}) == {}  # an ALLOW filter with no policy denies every connection


@pytest.mark.parametrize("action", ["DENY", "AUDIT"])
def test_tcp_deny_and_audit_drop_only_the_http_condition(action: str) -> None:
    (cfg,) = network_rbac(
        build_network_rbac_filters({action: [ap("d", action=action, rules=[HTTP_ONLY_RULE])]})
    )
    pol = cfg["rules"]["policies"]["ns[default]-policy[d]-rule[0]"]
    assert pol["permissions"] == [{"andRules": {"rules": [ANY_ID]}}]  # wider: any path
    assert pol["principals"] == [
        {"andIds": {"ids": [any_of({"directRemoteIp": {"addressPrefix": "127.0.0.9", "prefixLen": 32}})]}}
    ]


def test_http_chain_keeps_http_fields() -> None:
    pol = only_policy({"DENY": [ap("d", action="DENY", rules=[HTTP_ONLY_RULE])]})
    assert pol["permissions"][0]["andRules"]["rules"] == [
        any_rule({"urlPath": {"path": {"exact": "/admin"}}})
    ]


# ---- invalid values --------------------------------------------------------------------------------
def test_invalid_values_fail_closed() -> None:
    bad = {"from": [{"source": {"ipBlocks": ["not-an-ip", "127.0.0.2"]}}]}
    findings: list[Finding] = []
    (allow,) = [
        http_rbac(f) for f in build_http_rbac_filters({"ALLOW": [ap("a", rules=[bad])]}, findings=findings)
    ]
    assert allow["rules"].get("policies", {}) == {}
    assert any("not-an-ip" in f.message for f in findings)
    deny = only_policy({"DENY": [ap("d", action="DENY", rules=[bad])]})
    assert deny["principals"][0]["andIds"]["ids"] == [
        any_of({"directRemoteIp": {"addressPrefix": "127.0.0.2", "prefixLen": 32}})
    ]


def test_unknown_condition_key() -> None:
    rule = {"when": [{"key": "experimental.envoy.filters.x[y]", "values": ["z"]}]}
    (allow,) = [http_rbac(f) for f in build_http_rbac_filters({"ALLOW": [ap("a", rules=[rule])]})]
    assert allow["rules"].get("policies", {}) == {}
    deny = only_policy({"DENY": [ap("d", action="DENY", rules=[rule])]})
    assert deny["principals"] == [{"andIds": {"ids": [ANY_ID]}}]


def test_output_is_deterministic() -> None:
    pols = {"DENY": [ap("d", action="DENY", rules=[HTTP_ONLY_RULE])], "ALLOW": [ap("a", rules=[{}, {}])]}
    first = [f.SerializeToString(deterministic=True) for f in build_http_rbac_filters(pols)]
    assert first == [f.SerializeToString(deterministic=True) for f in build_http_rbac_filters(pols)]
