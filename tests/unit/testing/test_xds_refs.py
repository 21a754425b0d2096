from envoy.config.cluster.v3 import cluster_pb2

from pilot.testing.ads_client import decode
from pilot.testing.xds_refs import eds_name, route_names, secret_names
from pilot.testing.xds_resources import cluster, http_listener
from pilot.xds.types import CLUSTER, LISTENER


def test_references_a_proxy_follows() -> None:
    tls_cluster = decode(cluster("a", tls_secret="root-ca"))
    listener = decode(http_listener("l", "127.0.0.1", 80, "r80"))
    assert list(route_names(listener)) == ["r80"]
    assert secret_names({CLUSTER: {"a": tls_cluster}, LISTENER: {"l": listener}}) == {"root-ca"}
    assert secret_names({CLUSTER: {"b": decode(cluster("b"))}}) == set()
    assert eds_name(tls_cluster) == "a"
    named = cluster_pb2.Cluster(name="c", eds_cluster_config={"service_name": "svc"})
    assert eds_name(named) == "svc"
