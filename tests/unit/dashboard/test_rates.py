import pytest

from pilot.dashboard.prom_text import parse
from pilot.dashboard.rates import (
    RequestKey,
    Scrape,
    edge_rates,
    increases,
    rate,
    request_counters,
    request_key,
    scrape_increases,
)


def key(code: str = "200", version: str = "v1", src: str = "productpage-v1", reporter: str = "source") -> RequestKey:
    return RequestKey(reporter, src, "default", "reviews.default.svc.cluster.local", version, code)


def test_increase_is_the_difference_and_a_reset_counts_from_zero() -> None:
    before = {"a": 10.0, "b": 50.0, "gone": 3.0}
    after = {"a": 25.0, "b": 4.0, "new": 2.0}
    assert increases(before, after) == {"a": 15.0, "b": 4.0, "new": 2.0}


def test_rate_and_error_ratio() -> None:
    assert rate(100, 25, 10) .rps == 10.0
    assert rate(100, 25, 10).error_ratio == 0.25
    assert rate(0, 0, 10).error_ratio is None  # no requests: no ratio, not 0 %
    assert rate(5, 0, 0).rps == 0.0


def test_edge_rates_group_keys_and_count_5xx_as_errors() -> None:
    inc = {key("200"): 30.0, key("503"): 10.0, key("404"): 10.0, key("200", "v2"): 20.0}
    by_service = edge_rates(inc, 10.0, lambda k: k.destination_service)
    r = by_service["reviews.default.svc.cluster.local"]
    assert (r.rps, r.error_ratio, r.requests) == (7.0, 10 / 70, 70.0)
    by_version = edge_rates(inc, 10.0, lambda k: k.destination_version if k.response_code != "404" else None)
    assert by_version["v1"].rps == 4.0 and by_version["v1"].error_ratio == 0.25
    assert by_version["v2"].error_ratio == 0.0


def test_scrape_increases_skip_targets_seen_for_the_first_time() -> None:
    t0 = Scrape(0.0, {"a": {key(): 100.0}})
    t1 = Scrape(2.0, {"a": {key(): 110.0, key("503"): 1.0}, "b": {key(): 1000.0}})
    assert scrape_increases(t0, t1) == {key(): 10.0, key("503"): 1.0}


def test_request_key_from_the_telemetry_contract_labels() -> None:
    text = ('envoy_cluster_upstream_rq{reporter="source",source_workload="productpage-v1",'
            'source_workload_namespace="default",destination_service_name="reviews",'
            'destination_service_namespace="default",destination_version="v2",response_code="200",'
            'cluster_name="outbound|9080|v2|reviews.default.svc.cluster.local"} 7\n'
            'envoy_cluster_upstream_rq{reporter="source",source_workload="productpage-v1",'
            'destination_service="reviews.default.svc.cluster.local",destination_version="v2",'
            'response_code="200",cluster_name="other"} 5\n'
            'envoy_cluster_upstream_rq{cluster_name="xds-grpc",response_code="200"} 9\n')
    counters = request_counters(parse(text))
    k = RequestKey("source", "productpage-v1", "default", "reviews.default.svc.cluster.local", "v2", "200")
    # The series without a destination service (the xDS cluster) is not a mesh edge.
    assert counters == {k: 7.0, RequestKey("source", "productpage-v1", "", k.destination_service, "v2", "200"): 5.0}


@pytest.mark.parametrize("labels,expected", [
    ({"destination_service_name": "ratings"}, "ratings.default.svc.cluster.local"),
    ({"destination_service_name": "ratings", "destination_service_namespace": "prod"},
     "ratings.prod.svc.cluster.local"),
    ({"destination_service": "httpbin.org", "destination_service_name": "httpbin.org"}, "httpbin.org"),
])
def test_destination_host(labels: dict[str, str], expected: str) -> None:
    text = "m{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "} 1"
    k = request_key(next(iter(parse(text))))
    assert k is not None and k.destination_service == expected
    assert k.source_workload == "unknown" and k.destination_version == "unknown"
