"""Cluster stat names that carry Istio's metric labels (docs/telemetry-metrics.md).

A mesh cluster's `alt_stat_name` is a `label=value;` list; the bootstrap's stats tags
(`pilot.bootstrap_stats`) turn each pair into a Prometheus label, so `cluster.<list>.upstream_rq_200`
is scraped as `envoy_cluster_upstream_rq{reporter="source",destination_service_name="reviews",
response_code="200",...}`. Outbound lists depend only on the service, port and subset (never on the
proxy), so proxies keep sharing outbound clusters; the proxy's own `source_*` labels come from its
bootstrap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2

from pilot.model.proxy import ProxyView
from pilot.model.registry import DEFAULT_DOMAIN_SUFFIX, Service
from pilot.model.workload_identity import UNKNOWN, WorkloadIdentity, unknown_labels


def _clean(value: str) -> str:
    # `;` and `=` delimit the list; a value must not contain them.
    return (value or UNKNOWN).replace(";", "_").replace("=", "_")


def label_list(labels: Mapping[str, str]) -> str:
    return "".join(f"{k}={_clean(v)};" for k, v in labels.items())


def _service_labels(svc: Service | None) -> dict[str, str]:
    if svc is None:
        return {"destination_service": UNKNOWN, "destination_service_name": UNKNOWN,
                "destination_service_namespace": UNKNOWN}
    # Istio: a ServiceEntry host is its own service name.
    k8s = svc.hostname.endswith("." + DEFAULT_DOMAIN_SUFFIX)
    return {"destination_service": svc.hostname, "destination_service_name": svc.name if k8s else svc.hostname,
            "destination_service_namespace": svc.namespace}


def outbound_stat_name(cluster: str, svc: Service, subset: Mapping[str, Any] | None) -> str:
    """reporter=source: what the client knows of the destination; its version only through a subset."""
    dest = unknown_labels("destination")
    if svc.hostname.endswith("." + DEFAULT_DOMAIN_SUFFIX):
        dest["destination_workload_namespace"] = svc.namespace  # a Service selects pods of its namespace
    subset_labels = (subset or {}).get("labels") or {}
    if isinstance(subset_labels, Mapping) and subset_labels.get("version"):
        dest["destination_version"] = str(subset_labels["version"])
    return label_list({"reporter": "source", "cluster_name": cluster, **_service_labels(svc), **dest})


def inbound_stat_name(cluster: str, view: ProxyView, port: int, services: Iterable[Service]) -> str:
    """reporter=destination: this proxy is the destination; the caller is unknown to vanilla Envoy."""
    own = [s for s in services if s.namespace == view.namespace and s.selector and view.matches(dict(s.selector))
           and any(p.target_port == port or p.port == port for p in s.ports)]
    svc = own[0] if len(own) == 1 else None
    me = WorkloadIdentity.of(view.name, view.namespace, view.label_map)
    return label_list({"reporter": "destination", "cluster_name": cluster, **_service_labels(svc),
                       **me.labels("destination"), **unknown_labels("source")})


def name_stats(c: cluster_pb2.Cluster, stat_name: str) -> cluster_pb2.Cluster:
    """Give `c` the labelled stat name and the request/response size histograms
    (`upstream_rq_body_size`, ...: Istio's request/response bytes)."""
    c.alt_stat_name = stat_name
    c.track_cluster_stats.request_response_sizes = True
    return c
