"""RateLimitPolicy -> Envoy filters on the inbound HTTP connection manager (no Envoy needed)."""

from __future__ import annotations

import yaml
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.http.ratelimit.v3 import rate_limit_pb2

from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.translate.envoyfilter.checks import violations
from pilot.translate.envoyfilter.lists import unpack
from pilot.translate.envoyfilter.semantic import semantic_problems
from pilot.translate.generate import CLUSTER, LISTENER, generate_with_findings
from tests.unit.translate.envoyfilter_kit import INBOUND, MESH, OUTBOUND, PP, cluster, http_filters, manager

DEFAULT_HTTP = ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"]


def policy(*rules: dict, name: str = "rl", namespace: str = "default", app: str = "productpage") -> str:
    return yaml.safe_dump({"apiVersion": "policy.meshpilot.io/v1alpha1", "kind": "RateLimitPolicy",
                           "metadata": {"name": name, "namespace": namespace},
                           "spec": {"workloadSelector": {"labels": {"app": app}}, "rules": list(rules)}})


def run(*docs: str, service: str = "", pod=PP):  # type: ignore[no-untyped-def]
    res = resources_from_yaml(MESH.yaml())
    for d in docs:
        res += resources_from_yaml(d, "rl.yaml")
    snap = build_snapshot(res, MeshConfig(rate_limit_service=service))
    return generate_with_findings(snap, snap.proxy_view(NodeId.parse(pod.node_id)))


def first_config(out, cls):  # type: ignore[no-untyped-def]
    msg = unpack(manager(out, INBOUND).http_filters[0].typed_config)
    assert isinstance(msg, cls)
    return msg


def test_local_rule_with_match_key_and_response() -> None:
    rule = {"name": "per-user", "match": {"path": {"prefix": "/api"}, "method": "GET",
                                          "headers": {"X-Tier": {"exact": "free"}}},
            "limit": {"tokens": 5, "fillInterval": "10s", "burst": 3}, "descriptors": [{"header": "x-user"}],
            "response": {"status": 503, "headers": {"x-limited": "1"}}}
    out, findings = run(policy(rule))
    assert not findings
    assert http_filters(out) == ["meshpilot.local_ratelimit.default/rl/per-user", *DEFAULT_HTTP]
    assert http_filters(out, OUTBOUND) == DEFAULT_HTTP  # inbound only
    cfg = first_config(out, local_rate_limit_pb2.LocalRateLimit)
    assert not cfg.HasField("token_bucket")  # requests the rule does not match are not limited
    assert cfg.filter_enabled.default_value.numerator == 100 == cfg.filter_enforced.default_value.numerator
    (d,) = cfg.descriptors
    assert [(e.key, e.value) for e in d.entries] == [("meshpilot_rule", "default/rl/per-user"), ("header:x-user", "")]
    assert (d.token_bucket.max_tokens, d.token_bucket.tokens_per_fill.value, d.token_bucket.fill_interval.seconds) \
        == (8, 5, 10)
    (rl,) = cfg.rate_limits
    hvm = rl.actions[0].header_value_match
    assert (hvm.descriptor_key, hvm.descriptor_value) == ("meshpilot_rule", "default/rl/per-user")
    assert [(h.name, h.string_match.WhichOneof("match_pattern")) for h in hvm.headers] == [
        (":path", "prefix"), (":method", "exact"), ("x-tier", "exact")]
    assert rl.actions[1].request_headers.header_name == "x-user"
    assert cfg.status.code == 503 and cfg.response_headers_to_add[0].header.key == "x-limited"
    assert violations(unpack(out[LISTENER][INBOUND])) == []
    assert semantic_problems(unpack(out[LISTENER][INBOUND])) == []


def test_rule_without_match_counts_every_request_and_client_ip_key() -> None:
    rule = {"name": "per-ip", "limit": {"tokens": 1, "fillInterval": "1s"}, "descriptors": [{"clientIp": True}]}
    out, _ = run(policy(rule))
    cfg = first_config(out, local_rate_limit_pb2.LocalRateLimit)
    assert cfg.rate_limits[0].actions[0].generic_key.descriptor_value == "default/rl/per-ip"
    assert cfg.rate_limits[0].actions[1].HasField("remote_address")
    assert [e.key for e in cfg.descriptors[0].entries] == ["meshpilot_rule", "remote_address"]


def test_global_rule_uses_the_rate_limit_service_cluster() -> None:
    rule = {"name": "all", "global": True, "limit": {"tokens": 20, "fillInterval": "1m"}}
    out, findings = run(policy(rule), service="127.0.0.1:15099")
    assert not findings
    cfg = first_config(out, rate_limit_pb2.RateLimit)
    assert cfg.domain == "meshpilot" and not cfg.failure_mode_deny
    assert cfg.rate_limit_service.grpc_service.envoy_grpc.cluster_name == "meshpilot-ratelimit"
    c = cluster(out, "meshpilot-ratelimit")
    sa = c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (sa.address, sa.port_value) == ("127.0.0.1", 15099)
    assert "envoy.extensions.upstreams.http.v3.HttpProtocolOptions" in c.typed_extension_protocol_options
    assert violations(c) == [] and violations(unpack(out[LISTENER][INBOUND])) == []
    assert c.type == c.STATIC
    out, _ = run(policy(rule), service="meshpilot.istio-system.svc:15099")
    assert cluster(out, "meshpilot-ratelimit").type == c.STRICT_DNS


def test_global_rule_without_a_service_is_reported_and_left_out() -> None:
    rules = [{"name": "all", "global": True, "limit": {"tokens": 20, "fillInterval": "1m"}},
             {"name": "local", "limit": {"tokens": 20, "fillInterval": "1m"}}]
    out, findings = run(policy(*rules))
    assert [(f.code, f.name, f.origin.path) for f in findings] == [("MP5101", "rl", "rl.yaml")]
    assert http_filters(out) == ["meshpilot.local_ratelimit.default/rl/local", *DEFAULT_HTTP]
    assert "meshpilot-ratelimit" not in out[CLUSTER]


def test_policies_select_by_namespace_and_labels() -> None:
    rule = {"name": "r", "limit": {"tokens": 1, "fillInterval": "1s"}}
    baseline, _ = run()
    out, _ = run(policy(rule, app="reviews"), policy(rule, name="other", namespace="elsewhere"))
    assert out == baseline
    reviews = MESH.pod("reviews")
    out, _ = run(policy(rule, app="reviews"), pod=reviews)
    assert http_filters(out, f"{reviews.ip}_9080")[0] == "meshpilot.local_ratelimit.default/rl/r"


def test_with_security_rate_limits_go_after_rbac_and_envoy_filters_come_last() -> None:
    from tests.unit.translate.envoyfilter_kit import envoy_filter, hcm_match

    authz = yaml.safe_dump({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                            "metadata": {"name": "allow", "namespace": "default"},
                            "spec": {"selector": {"matchLabels": {"app": "productpage"}}, "rules": [{}]}})
    first = envoy_filter([{"applyTo": "HTTP_FILTER", "match": hcm_match(), "patch": {
        "operation": "INSERT_FIRST", "value": {"name": "patched-first", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}}}])
    rule = {"name": "r", "limit": {"tokens": 1, "fillInterval": "1s"}}
    res = resources_from_yaml(MESH.yaml()) + resources_from_yaml(authz) + resources_from_yaml(policy(rule)) \
        + resources_from_yaml(first)
    snap = build_snapshot(res)
    view = snap.proxy_view(NodeId.parse(PP.node_id))
    out, findings = generate_with_findings(snap, view)
    assert not findings
    assert http_filters(out) == ["patched-first", "envoy.filters.http.rbac", "meshpilot.local_ratelimit.default/rl/r",
                                 *DEFAULT_HTTP]
