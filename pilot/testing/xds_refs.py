"""What a proxy subscribes to next, read from what it received (as Envoy does): EDS names of EDS
clusters, RDS names in listeners' HTTP connection managers, SDS names in TLS transport sockets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf.message import Message

from pilot.xds.types import CLUSTER, LISTENER


def eds_name(cluster: cluster_pb2.Cluster) -> str:
    return cluster.eds_cluster_config.service_name or cluster.name


def route_names(listener: listener_pb2.Listener) -> Iterable[str]:
    chains = [*listener.filter_chains]
    if listener.HasField("default_filter_chain"):
        chains.append(listener.default_filter_chain)
    for chain in chains:
        for network_filter in chain.filters:
            if network_filter.typed_config.Is(hcm_pb2.HttpConnectionManager.DESCRIPTOR):
                hcm = hcm_pb2.HttpConnectionManager()
                network_filter.typed_config.Unpack(hcm)
                if hcm.HasField("rds"):
                    yield hcm.rds.route_config_name


def secret_names(resources: Mapping[str, Mapping[str, Message]]) -> set[str]:
    """Secret names referenced by TLS transport sockets of clusters and listeners."""
    sockets = [
        c.transport_socket for c in resources.get(CLUSTER, {}).values() if isinstance(c, cluster_pb2.Cluster)
    ]
    for listener in resources.get(LISTENER, {}).values():
        assert isinstance(listener, listener_pb2.Listener)
        sockets.extend(chain.transport_socket for chain in listener.filter_chains)
    names: set[str] = set()
    for socket in sockets:
        for tls_type in (tls_pb2.UpstreamTlsContext, tls_pb2.DownstreamTlsContext):
            if socket.typed_config.Is(tls_type.DESCRIPTOR):
                context = tls_type()
                socket.typed_config.Unpack(context)
                names |= _common_tls_secret_names(context.common_tls_context)
    return names


def _common_tls_secret_names(common: tls_pb2.CommonTlsContext) -> set[str]:
    names = {c.name for c in common.tls_certificate_sds_secret_configs}
    if common.HasField("validation_context_sds_secret_config"):
        names.add(common.validation_context_sds_secret_config.name)
    combined = common.combined_validation_context
    if common.HasField("combined_validation_context") and combined.HasField(
        "validation_context_sds_secret_config"
    ):
        names.add(combined.validation_context_sds_secret_config.name)
    return names
