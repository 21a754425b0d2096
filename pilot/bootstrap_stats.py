"""Bootstrap half of the sidecar metrics (docs/telemetry-metrics.md): the stats tags that turn the
`label=value;` cluster stat names written by `pilot.translate.stats_names` into Istio's Prometheus labels,
the proxy's own identity as fixed tags, and the `:15090/stats/prometheus` listener.

Tag extraction: every `stats_tags` regex is matched against the full stat name; its first group is cut
from the name, its second group is the label value; of several tags with one name the first that matches
wins, and tags without a literal `^word\\.` prefix are tried first, in config order
(https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/metrics/v3/stats.proto#config-metrics-v3-tagspecifier).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilot.model.workload_identity import WorkloadIdentity, unknown_labels

STATS_PORT = 15090  # Istio's Prometheus port on every proxy
STATS_PATH = "/stats/prometheus"

# Labels that cluster stat names carry (pilot.translate.stats_names writes them in this vocabulary).
CLUSTER_LABELS = ("reporter", "cluster_name", "destination_service", "destination_service_name",
                  "destination_service_namespace", *unknown_labels("destination"))
SOURCE_LABELS = tuple(unknown_labels("source"))

# Envoy's default tags we keep (use_all_default_tags is off because the default envoy.cluster_name tag
# stops at the first dot of `outbound|80||reviews.default.svc.cluster.local`).
_DEFAULT_TAGS = ("envoy.listener_address", "envoy.http_conn_manager_prefix", "envoy.http_user_agent",
                 "envoy.ssl_cipher", "cipher_suite", "envoy.ratelimit_prefix", "envoy.local_http_ratelimit_prefix",
                 "envoy.local_network_ratelimit_prefix", "envoy.tcp_prefix", "envoy.udp_prefix",
                 "envoy.fault_downstream_cluster", "envoy.grpc_bridge_service", "envoy.grpc_bridge_method",
                 "envoy.virtual_host", "envoy.virtual_cluster", "envoy.rds_route_config", "envoy.route",
                 "envoy.ext_authz_prefix", "envoy.worker_id")


def _pair_regex(label: str, *, first_in_config_order: bool = False) -> str:
    # `cluster.<k=v;>...<k=v;>.<stat>`: cut `label=value;` (and the dot that ends the list, if it is the
    # last pair). `(?:cluster)` hides the `cluster` prefix token, so the tag is tried before fixed tags.
    head = r"^(?:cluster)\." if first_in_config_order else r"^cluster\."
    return head + r"(?:[^;]*;)*?(" + label + r"=([^;]*);\.?)"


def stats_tags(identity: WorkloadIdentity) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = [
        {"tag_name": "response_code", "regex": r"_rq(_(\d{3}))$"},
        {"tag_name": "response_code_class", "regex": r"_rq_(\d)xx$"},
    ]
    tags += [{"tag_name": label, "regex": _pair_regex(label)} for label in CLUSTER_LABELS]
    # Clusters without a label list (xds-grpc, BlackHoleCluster, EnvoyFilter-added ones).
    tags.append({"tag_name": "cluster_name",
                 "regex": r"^cluster\.(([^;=]+?(?:\.[^;=]+?\.svc\.cluster\.local)?)\.)"})
    tags += [{"tag_name": name} for name in _DEFAULT_TAGS]
    # Inbound clusters name their (unknown) source; that must win over the proxy's own identity below.
    tags += [{"tag_name": label, "regex": _pair_regex(label, first_in_config_order=True)}
             for label in SOURCE_LABELS]
    tags += [{"tag_name": k, "fixed_value": v} for k, v in identity.labels("source").items()]
    return tags


def stats_config(identity: WorkloadIdentity) -> dict[str, Any]:
    return {"use_all_default_tags": False, "stats_tags": stats_tags(identity)}


def prometheus_listener(host: str, port: int, admin_host: str, admin_port: int) -> tuple[dict[str, Any],
                                                                                          dict[str, Any]]:
    """(listener, cluster): `host:port` serves the admin's /stats/prometheus and nothing else, as Istio's
    bootstrap does, so scrapers never reach the rest of the admin API."""
    hcm = {"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
                    "HttpConnectionManager",
           "stat_prefix": "stats", "codec_type": "AUTO",
           "route_config": {"virtual_hosts": [{"name": "backend", "domains": ["*"], "routes": [
               {"match": {"prefix": STATS_PATH}, "route": {"cluster": "prometheus_stats"}}]}]},
           "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}
    listener = {"name": f"prometheus_{port}",
                "address": {"socket_address": {"address": host, "port_value": port}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                "typed_config": hcm}]}]}
    cluster = {"name": "prometheus_stats", "type": "STATIC", "connect_timeout": "0.25s",
               "load_assignment": {"cluster_name": "prometheus_stats", "endpoints": [{"lb_endpoints": [
                   {"endpoint": {"address": {"socket_address": {"address": admin_host,
                                                                "port_value": admin_port}}}}]}]}}
    return listener, cluster


def add_stats(doc: dict[str, Any], identity: WorkloadIdentity, admin_host: str, admin_port: int,
              stats_port: int = STATS_PORT) -> dict[str, Any]:
    """`doc` (a bootstrap) with the stats tags and, unless `stats_port` is 0, the Prometheus listener on
    the admin IP (each proxy on loopback has its own, so many proxies share no port)."""
    doc["stats_config"] = stats_config(identity)
    # Histograms reach /stats/prometheus when Envoy merges them at its periodic flush (5 s by default);
    # `stats_flush_on_admin` would merge asynchronously after answering, so a scrape would show the
    # histograms as of the previous scrape.
    if stats_port:
        listener, cluster = prometheus_listener(admin_host, stats_port, admin_host, admin_port)
        static = doc.setdefault("static_resources", {})
        static.setdefault("listeners", []).append(listener)
        static.setdefault("clusters", []).append(cluster)
    return doc


def identity_for(pod: str, namespace: str, labels: Mapping[str, str] | None, workload: str = "") -> WorkloadIdentity:
    return WorkloadIdentity.of(pod, namespace, labels or {}, workload)
