"""Bookinfo's own YAML (no Sidecar) as a cluster would run it, translated for captured proxies."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from google.protobuf.message import Message

from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId, ProxyView
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.testing.captured_mesh import CapturedMesh
from pilot.translate.generate import CLUSTER, LISTENER, Resources, generate

REPO = Path(__file__).resolve().parents[3]
BOOKINFO = REPO / "tests/fixtures/istio/samples/bookinfo"
M = TypeVar("M", bound=Message)


def bookinfo_mesh(extra_yaml: str = "") -> CapturedMesh:
    text = (BOOKINFO / "platform/kube/bookinfo.yaml").read_text() + "\n---\n" + extra_yaml
    return CapturedMesh.from_yaml(text, iter(f"10.1.0.{i}" for i in range(10, 250)),
                                  iter(f"10.96.0.{i}" for i in range(10, 250)))


def snapshot(mesh: CapturedMesh, policy_yaml: str = "", **mesh_config: Any) -> MeshSnapshot:
    docs = yaml.safe_dump_all(mesh.docs)
    return build_snapshot(resources_from_yaml(docs + "\n---\n" + policy_yaml), MeshConfig(**mesh_config))


def view(snap: MeshSnapshot, mesh: CapturedMesh, pod: str, interception: str = "REDIRECT") -> ProxyView:
    p = mesh.pod(pod)
    return snap.proxy_view(NodeId.parse(p.node_id, interception))


def captured(pod: str = "productpage", extra_yaml: str = "", policy_yaml: str = "", **mesh_config: Any
             ) -> Resources:
    mesh = bookinfo_mesh(extra_yaml)
    snap = snapshot(mesh, policy_yaml, **mesh_config)
    return generate(snap, view(snap, mesh, pod))


def unpack(packed: Any, cls: type[M]) -> M:
    msg = cls()
    assert packed.Unpack(msg)
    return msg


def listener(out: Resources, name: str) -> listener_pb2.Listener:
    return unpack(out[LISTENER][name], listener_pb2.Listener)


def cluster(out: Resources, name: str) -> cluster_pb2.Cluster:
    return unpack(out[CLUSTER][name], cluster_pb2.Cluster)


def chain(lis: listener_pb2.Listener, name: str) -> Any:
    return next(c for c in lis.filter_chains if c.name == name)


def tcp_cluster(filter_chain: Any) -> str:
    tp = unpack(filter_chain.filters[-1].typed_config, tcp_proxy_pb2.TcpProxy)
    return tp.cluster


def manager(filter_chain: Any) -> hcm.HttpConnectionManager:
    return unpack(filter_chain.filters[-1].typed_config, hcm.HttpConnectionManager)
