from envoy.service.discovery.v3 import discovery_pb2

from pilot.testing.xds_resources import cluster, direct_response_route, resource_set
from pilot.xds.cache import ResourceCache
from pilot.xds.metrics import render_prometheus
from pilot.xds.responses import DeltaResponse, SotwResponse, serialize_response
from pilot.xds.types import CLUSTER, ROUTE


def _resources():
    cache = ResourceCache()
    cache.set_node_resources("n", resource_set(clusters={"a": cluster("a"), "b": cluster("b")}))
    node = cache.get("n")
    assert node is not None
    return node.of(CLUSTER)


def test_sotw_encoding_equals_protobuf_encoding() -> None:
    typed = _resources()
    response = SotwResponse(CLUSTER, typed.version, "7", tuple(typed.resources.values()))
    expected = discovery_pb2.DiscoveryResponse(
        version_info=typed.version,
        type_url=CLUSTER,
        nonce="7",
        resources=[cluster("a"), cluster("b")],
    )
    assert response.to_proto() == expected
    assert serialize_response(expected) == expected.SerializeToString()


def test_delta_encoding_equals_protobuf_encoding() -> None:
    typed = _resources()
    response = DeltaResponse(CLUSTER, typed.version, "3", (typed.resources["a"],), ("gone",))
    expected = discovery_pb2.DeltaDiscoveryResponse(
        system_version_info=typed.version,
        type_url=CLUSTER,
        nonce="3",
        resources=[
            discovery_pb2.Resource(name="a", version=typed.resources["a"].version, resource=cluster("a"))
        ],
        removed_resources=["gone"],
    )
    assert response.to_proto() == expected


def test_encoding_of_large_resources_uses_multibyte_lengths() -> None:
    cache = ResourceCache()
    big = direct_response_route("r", "x" * 70_000)
    cache.set_node_resources("n", resource_set(routes={"r": big}))
    node = cache.get("n")
    assert node is not None
    response = SotwResponse(ROUTE, "v", "1", tuple(node.of(ROUTE).resources.values()))
    assert list(response.to_proto().resources) == [big]


def test_render_prometheus_groups_families_and_types_them() -> None:
    text = render_prometheus(
        {'nacks_total{type="rds"}': 2, "streams_active": 3, "nacks_total": 2, "acks_total": 1}
    )
    assert text.splitlines() == [
        "# TYPE meshpilot_xds_acks_total counter",
        "meshpilot_xds_acks_total 1",
        "# TYPE meshpilot_xds_nacks_total counter",
        "meshpilot_xds_nacks_total 2",
        'meshpilot_xds_nacks_total{type="rds"} 2',
        "# TYPE meshpilot_xds_streams_active gauge",
        "meshpilot_xds_streams_active 3",
    ]
