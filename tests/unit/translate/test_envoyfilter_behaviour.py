"""EnvoyFilter selection, ordering, TypedStruct, and bad patches that are reported and left out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2

from pilot.translate.envoyfilter.lists import unpack
from pilot.translate.generate import LISTENER
from tests.unit.translate.envoyfilter_kit import (
    INBOUND,
    MESH,
    OUTBOUND,
    envoy_filter,
    hcm_match,
    http_filters,
    local_ratelimit,
    manager,
    run,
)

REPO = Path(__file__).resolve().parents[3]
LRL = "envoy.filters.http.local_ratelimit"
DEFAULT_HTTP = ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"]


def insert_first(name: str, context: str = "SIDECAR_INBOUND", **cfg: Any) -> dict[str, Any]:
    return {"applyTo": "HTTP_FILTER", "match": hcm_match(context=context),
            "patch": {"operation": "INSERT_FIRST",
                      "value": {"name": name, "typed_config": {**local_ratelimit(), **cfg}}}}


def test_istio_task_recipe_with_typed_struct_becomes_a_typed_local_rate_limit() -> None:
    text = (REPO / "policies/ratelimit/local-ratelimit-envoyfilter.yaml").read_text()
    out, findings = run(text)
    assert not findings
    assert http_filters(out) == [LRL, *DEFAULT_HTTP]
    assert http_filters(out, OUTBOUND) == DEFAULT_HTTP  # SIDECAR_INBOUND only
    cfg = unpack(manager(out, INBOUND).http_filters[0].typed_config)
    assert isinstance(cfg, local_rate_limit_pb2.LocalRateLimit)
    assert (cfg.token_bucket.max_tokens, cfg.token_bucket.fill_interval.seconds) == (10, 1)
    assert cfg.response_headers_to_add[0].header.key == "x-local-rate-limit"
    # It selects app=productpage only.
    other, _ = run(text, pod=MESH.pod("reviews"))
    assert http_filters(other, f"{MESH.pod('reviews').ip}_9080") == DEFAULT_HTTP


def test_legacy_filter_names_still_match() -> None:
    patch = {"applyTo": "HTTP_FILTER", "match": {"listener": {"filterChain": {"filter": {
        "name": "envoy.http_connection_manager", "subFilter": {"name": "envoy.router"}}}}},
             "patch": {"operation": "INSERT_BEFORE", "value": {"name": LRL, "typed_config": local_ratelimit()}}}
    out, findings = run(envoy_filter([patch]))
    assert not findings
    assert http_filters(out) == [*DEFAULT_HTTP[:2], LRL, DEFAULT_HTTP[2]]


def test_bad_type_is_reported_with_file_resource_and_index_and_other_patches_still_apply() -> None:
    bad = {"applyTo": "HTTP_FILTER", "match": hcm_match(), "patch": {"operation": "INSERT_FIRST", "value": {
        "name": "bad", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope"}}}}
    out, findings = run(envoy_filter([insert_first("good"), bad], name="limits"))
    assert [(f.code, f.kind, f.name, f.field, f.origin.path) for f in findings] == [
        ("MP5001", "EnvoyFilter", "limits", "spec.configPatches[1]", "ef0.yaml")]
    assert "unknown @type" in findings[0].message and "nope.v3.Nope" in findings[0].message
    assert http_filters(out) == ["good", *DEFAULT_HTTP]


def test_unknown_field_and_typed_struct_without_type_url_are_reported() -> None:
    typo = insert_first("typo")
    typo["patch"]["value"]["typed_config"]["token_bukket"] = {}
    ts = {"applyTo": "HTTP_FILTER", "match": hcm_match(), "patch": {"operation": "INSERT_FIRST", "value": {
        "name": "ts", "typed_config": {"@type": "type.googleapis.com/udpa.type.v1.TypedStruct", "value": {}}}}}
    out, findings = run(envoy_filter([typo, ts]))
    assert [f.code for f in findings] == ["MP5001", "MP5001"]
    assert "token_bukket" in findings[0].message and "type_url" in findings[1].message
    assert http_filters(out) == DEFAULT_HTTP


def test_patch_breaking_envoy_rules_is_left_out_whole() -> None:
    # max_tokens must be > 0 (PGV rule in local_ratelimit's TokenBucket); the patch hits two listeners
    # in ANY context and must apply to neither.
    bad = insert_first("zero", context="ANY", token_bucket={"max_tokens": 0, "fill_interval": "1s"})
    out, findings = run(envoy_filter([bad]))
    assert [f.code for f in findings] == ["MP5002"]
    assert "max_tokens" in findings[0].message
    assert http_filters(out) == DEFAULT_HTTP and http_filters(out, OUTBOUND) == DEFAULT_HTTP


def test_static_problems_are_reported() -> None:
    patches = [
        {"applyTo": "BOOTSTRAP", "patch": {"operation": "MERGE", "value": {}}},
        {"applyTo": "ROUTE_CONFIGURATION", "patch": {"operation": "ADD", "value": {"name": "x"}}},
        {"applyTo": "HTTP_FILTER", "match": {"listener": {"filterChain": {"filter": {
            "name": "envoy.filters.network.tcp_proxy"}}}}, "patch": {"operation": "REMOVE"}},
        {"applyTo": "CLUSTER", "match": {"listener": {"portNumber": 1}}, "patch": {"operation": "REMOVE"}},
        {"applyTo": "HTTP_FILTER", "match": hcm_match(), "patch": {"operation": "INSERT_FIRST"}},
        {"applyTo": "HTTP_FILTER", "match": {"context": "SIDECAR"}, "patch": {"operation": "REMOVE"}},
    ]
    out, findings = run(envoy_filter(patches))
    assert sorted((f.field, f.code) for f in findings) == [(f"spec.configPatches[{i}]", "MP5001") for i in range(6)]
    assert out == run()[0]


def test_no_match_is_a_warning() -> None:
    patch = {"applyTo": "HTTP_FILTER", "match": {"context": "SIDECAR_INBOUND", "listener": {"portNumber": 7777}},
             "patch": {"operation": "INSERT_FIRST", "value": {"name": LRL, "typed_config": local_ratelimit()}}}
    _out, findings = run(envoy_filter([patch]))
    assert [(f.code, f.severity.value) for f in findings] == [("MP5003", "warning")]


def test_namespace_root_namespace_and_selector_scoping() -> None:
    other_ns = envoy_filter([insert_first("other")], name="a", namespace="elsewhere")
    root = envoy_filter([insert_first("root")], name="b", namespace="istio-system", selector={"app": "productpage"})
    miss = envoy_filter([insert_first("miss")], name="c", selector={"app": "reviews"})
    out, findings = run(other_ns, root, miss)
    assert not findings
    assert http_filters(out) == ["root", *DEFAULT_HTTP]


def test_order_is_priority_then_root_namespace_then_creation_time() -> None:
    # INSERT_FIRST puts the last-applied filter first.
    a = envoy_filter([insert_first("a")], name="a", created="2024-01-01T00:00:00Z")
    b = envoy_filter([insert_first("b")], name="b", created="2023-01-01T00:00:00Z")
    root = envoy_filter([insert_first("root")], name="z", namespace="istio-system")
    late = envoy_filter([insert_first("late")], name="late", priority=-5)
    out, findings = run(a, b, root, late)
    assert not findings
    assert http_filters(out)[:4] == ["a", "b", "root", "late"]


def test_equal_inputs_give_identical_output() -> None:
    text = (REPO / "policies/ratelimit/local-ratelimit-envoyfilter.yaml").read_text()
    first, _ = run(text)
    second, _ = run(text)
    assert {t: {n: a.SerializeToString(deterministic=True) for n, a in v.items()} for t, v in first.items()} == \
        {t: {n: a.SerializeToString(deterministic=True) for n, a in v.items()} for t, v in second.items()}


def test_target_refs_are_not_supported_so_the_filter_applies_nowhere() -> None:
    text = envoy_filter([insert_first("x")]).replace("spec:\n", "spec:\n  targetRefs: [{kind: Gateway, name: gw}]\n")
    out, findings = run(text)
    assert "targetRefs" in text and not findings
    assert http_filters(out) == DEFAULT_HTTP


def test_untouched_resources_keep_their_packed_bytes() -> None:
    from pilot.model.proxy import NodeId
    from pilot.model.snapshot import build_snapshot
    from pilot.sources.memory import resources_from_yaml
    from pilot.translate.envoyfilter import apply_envoy_filters

    snap = build_snapshot(resources_from_yaml(MESH.yaml()) + resources_from_yaml(envoy_filter([insert_first("x")])))
    view = snap.proxy_view(NodeId.parse(MESH.pod("productpage").node_id))
    generated, _ = run()
    out, findings = apply_envoy_filters(snap, view, generated)
    assert not findings
    assert out[LISTENER][OUTBOUND] is generated[LISTENER][OUTBOUND]
    assert out[LISTENER][INBOUND] != generated[LISTENER][INBOUND]


def test_pilot_validate_reports_bad_patch_values(tmp_path: Path, capsys: Any) -> None:
    from pilot.cli import main

    bad = {"applyTo": "HTTP_FILTER", "match": hcm_match(), "patch": {"operation": "INSERT_FIRST", "value": {
        "name": "x", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope"}}}}
    (tmp_path / "ef.yaml").write_text(envoy_filter([insert_first("fine"), bad], name="broken"))
    assert main(["validate", str(tmp_path / "ef.yaml")]) == 1
    out = capsys.readouterr().out
    assert "EnvoyFilter default/broken: spec.configPatches[1]: patch.value:" in out and "nope.v3.Nope" in out
    assert "configPatches[0]" not in out
    assert main(["validate", str(REPO / "policies/ratelimit")]) == 0


def test_patch_failing_in_one_resource_is_left_out_of_all() -> None:
    # Context ANY: the inbound inline route config takes the vhost, the outbound RDS config already
    # serves domain "reviews" and would be rejected. Nothing may change anywhere.
    vhost = {"name": "dup", "domains": ["reviews"], "routes": [
        {"match": {"prefix": "/"}, "direct_response": {"status": 200}}]}
    baseline, _ = run()
    out, findings = run(envoy_filter([{"applyTo": "VIRTUAL_HOST", "match": {"context": "ANY"},
                                       "patch": {"operation": "ADD", "value": vhost}}]))
    assert [f.code for f in findings] == ["MP5002"] and "domain reviews" in findings[0].message
    assert out == baseline
    inbound_only, findings = run(envoy_filter([{"applyTo": "VIRTUAL_HOST", "match": {"context": "SIDECAR_INBOUND"},
                                                "patch": {"operation": "ADD", "value": vhost}}]))
    assert not findings and inbound_only[LISTENER][INBOUND] != baseline[LISTENER][INBOUND]


@pytest.mark.parametrize("bucket_cfg, per_route_cfg, message", [
    ({"token_bucket": {"max_tokens": 1, "fill_interval": "0.01s"}}, None, "at least 50ms"),
    ({"descriptors": [{"entries": [{"key": "k"}], "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}}] * 2},
     None, "appears twice"),
    ({}, {}, "per-route local rate limit needs a token_bucket"),
])
def test_local_rate_limit_configs_envoy_would_reject(bucket_cfg: dict[str, Any], per_route_cfg: Any,
                                                     message: str) -> None:
    patches = [insert_first("envoy.filters.http.local_ratelimit", **bucket_cfg)]
    if per_route_cfg is not None:
        patches = [{"applyTo": "HTTP_ROUTE", "match": {"context": "SIDECAR_INBOUND"}, "patch": {
            "operation": "MERGE", "value": {"typed_per_filter_config": {
                "envoy.filters.http.local_ratelimit": {**local_ratelimit(), **per_route_cfg}}}}}]
    out, findings = run(envoy_filter(patches))
    assert [f.code for f in findings] == ["MP5002"] and message in findings[0].message, findings
    assert out == run()[0]
