"""Helpers for EnvoyFilter unit tests: a small mesh, one EnvoyFilter, and readers for the result."""

from __future__ import annotations

from typing import Any

import yaml
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

from pilot.model.findings import Finding
from pilot.model.proxy import NodeId
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.testing.mesh import LoopbackMesh
from pilot.translate.envoyfilter.lists import unpack
from pilot.translate.generate import CLUSTER, LISTENER, ROUTE, Resources, generate_with_findings

MESH = LoopbackMesh.build([("productpage", "v1"), ("reviews", "v1")], block=(127, 40, 0))
PP = MESH.pod("productpage")
INBOUND = f"{PP.ip}_9080"
OUTBOUND = f"{PP.bind}_9080"
REVIEWS_VHOST = "reviews.default.svc.cluster.local:9080"


def envoy_filter(patches: list[dict[str, Any]], *, name: str = "ef", namespace: str = "default",
                 selector: dict[str, str] | None = None, priority: int = 0, created: str = "") -> str:
    spec: dict[str, Any] = {"configPatches": patches}
    if selector is not None:
        spec["workloadSelector"] = {"labels": selector}
    if priority:
        spec["priority"] = priority
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if created:
        meta["creationTimestamp"] = created
    return yaml.safe_dump({"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
                           "metadata": meta, "spec": spec})


def run(*filters: str, extra: str = "", pod: Any = PP) -> tuple[Resources, list[Finding]]:
    docs = resources_from_yaml(MESH.yaml())
    for i, text in enumerate([*filters, extra]):
        if text:
            docs += resources_from_yaml(text, f"ef{i}.yaml")
    snap = build_snapshot(docs)
    return generate_with_findings(snap, snap.proxy_view(NodeId.parse(pod.node_id)))


def listener(out: Resources, name: str) -> listener_pb2.Listener:
    msg = unpack(out[LISTENER][name])
    assert isinstance(msg, listener_pb2.Listener)
    return msg


def manager(out: Resources, name: str, chain: int = 0) -> hcm.HttpConnectionManager:
    msg = unpack(listener(out, name).filter_chains[chain].filters[0].typed_config)
    assert isinstance(msg, hcm.HttpConnectionManager)
    return msg


def http_filters(out: Resources, name: str = INBOUND) -> list[str]:
    return [f.name for f in manager(out, name).http_filters]


def route_config(out: Resources, name: str = "9080") -> route_pb2.RouteConfiguration:
    msg = unpack(out[ROUTE][name])
    assert isinstance(msg, route_pb2.RouteConfiguration)
    return msg


def cluster(out: Resources, name: str) -> cluster_pb2.Cluster:
    msg = unpack(out[CLUSTER][name])
    assert isinstance(msg, cluster_pb2.Cluster)
    return msg


def hcm_match(sub: str = "", context: str = "SIDECAR_INBOUND") -> dict[str, Any]:
    flt: dict[str, Any] = {"name": "envoy.filters.network.http_connection_manager"}
    if sub:
        flt["subFilter"] = {"name": sub}
    return {"context": context, "listener": {"filterChain": {"filter": flt}}}


def local_ratelimit(stat_prefix: str = "rl", tokens: int = 0) -> dict[str, Any]:
    cfg: dict[str, Any] = {"@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3"
                                    ".LocalRateLimit", "stat_prefix": stat_prefix}
    if tokens:
        cfg["token_bucket"] = {"max_tokens": tokens, "tokens_per_fill": tokens, "fill_interval": "1s"}
    return cfg
