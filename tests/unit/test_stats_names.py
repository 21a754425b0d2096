"""Cluster stat names and the bootstrap's stats tags agree: applying the tags as Envoy does (every regex on
the full name, first group cut, second group the value, first match of a name wins, prefix-less tags
first) turns a labelled stat into `cluster.upstream_rq` with Istio's labels. The real Envoy check is
tests/e2e/test_sidecar_metrics.py."""

from __future__ import annotations

import re

import pytest

from pilot.bootstrap_stats import stats_tags
from pilot.model.proxy import ProxyView
from pilot.model.registry import Service, ServicePort
from pilot.model.workload_identity import WorkloadIdentity, workload_name
from pilot.translate.stats_names import inbound_stat_name, outbound_stat_name

ME = WorkloadIdentity.of("productpage-v1-0", "default", {"app": "productpage", "version": "v1"})
REVIEWS = Service("reviews", "default", "reviews.default.svc.cluster.local", (ServicePort("http", 9080, 9080, "HTTP"),),
                  selector={"app": "reviews"})


def extract(stat: str) -> tuple[str, dict[str, str]]:
    tags = stats_tags(ME)
    regex_first = [t for t in tags if "regex" in t and not re.match(r"^\^\w+\\\.", t["regex"])]
    prefixed = [t for t in tags if "regex" in t and t not in regex_first]
    fixed = [t for t in tags if "fixed_value" in t]
    order = [t for t in tags if t in regex_first or t in fixed] + prefixed
    out: dict[str, str] = {}
    cut: set[int] = set()
    for t in order:
        if t["tag_name"] in out:
            continue
        if "fixed_value" in t:
            out[t["tag_name"]] = t["fixed_value"]
            continue
        m = re.search(t["regex"], stat)
        if m:
            out[t["tag_name"]] = m.group(2) if m.re.groups >= 2 else m.group(1)
            cut |= set(range(m.start(1), m.end(1)))
    return "".join(c for i, c in enumerate(stat) if i not in cut), out


def test_outbound_subset_cluster_stats_become_istio_labels() -> None:
    cluster = "outbound|9080|v2|reviews.default.svc.cluster.local"
    name, labels = extract(f"cluster.{outbound_stat_name(cluster, REVIEWS, {'labels': {'version': 'v2'}})}"
                           ".upstream_rq_503")
    assert name == "cluster.upstream_rq"
    assert labels["response_code"] == "503" and labels["reporter"] == "source"
    assert labels["cluster_name"] == cluster
    assert labels["destination_service"] == "reviews.default.svc.cluster.local"
    assert (labels["destination_service_name"], labels["destination_version"]) == ("reviews", "v2")
    assert (labels["source_workload"], labels["source_app"], labels["source_version"]) == (
        "productpage-v1", "productpage", "v1")


def test_inbound_cluster_stats_name_the_proxy_as_destination_and_the_caller_unknown() -> None:
    view = ProxyView("sidecar", "127.0.0.5", "reviews-v3-0", "default", (("app", "reviews"), ("version", "v3")))
    name, labels = extract(f"cluster.{inbound_stat_name('inbound|9080||', view, 9080, [REVIEWS])}.upstream_rq_200")
    assert name == "cluster.upstream_rq"
    assert labels["reporter"] == "destination"
    assert (labels["destination_workload"], labels["destination_version"]) == ("reviews-v3", "v3")
    assert labels["destination_service_name"] == "reviews"
    assert labels["source_workload"] == "unknown"  # not the proxy's own fixed identity


def test_other_stats_keep_envoy_names_and_clusters_get_a_cluster_name() -> None:
    assert extract("cluster.xds-grpc.upstream_cx_total") == ("cluster.upstream_cx_total", {
        **ME.labels("source"), "cluster_name": "xds-grpc"})
    name, labels = extract("cluster.outbound|80||web.default.svc.cluster.local.upstream_rq_2xx")
    assert (name, labels["response_code_class"]) == ("cluster.upstream_rq_xx", "2")
    assert labels["cluster_name"] == "outbound|80||web.default.svc.cluster.local"


@pytest.mark.parametrize(("pod", "workload"), [("reviews-v1-7f99c8d8b9-x2k4p", "reviews-v1"),
                                               ("reviews-v1-0", "reviews-v1"), ("web-7bz2x", "web"),
                                               ("istio-ingressgateway", "istio-ingressgateway")])
def test_workload_name_drops_generated_pod_suffixes(pod: str, workload: str) -> None:
    assert workload_name(pod) == workload


def test_metric_names_of_a_promql_expression() -> None:
    from pilot.testing.prom import metric_names

    expr = ('histogram_quantile(0.99, sum by (le, destination_service_name) (rate(envoy_cluster_upstream_rq_time_bucket'
            '{reporter="source",source_workload=~"$source_workload"}[$__rate_interval]))) / on (x) '
            'sum(pilot_xds) + 1e3 * rate(pilot_xds_pushes[5m])')
    assert metric_names(expr) == {"envoy_cluster_upstream_rq_time_bucket", "pilot_xds", "pilot_xds_pushes"}
