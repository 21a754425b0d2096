"""How a proxy asks for the captured layout and what the model keeps for it: node metadata
INTERCEPTION_MODE (bootstrap --capture, read on connect), Service clusterIP, the mesh's capture ports."""

from __future__ import annotations

from envoy.config.core.v3 import base_pb2
from google.protobuf import json_format

from pilot.bootstrap import bootstrap
from pilot.model.mesh import MeshConfig
from pilot.model.registry import service_from_resource
from pilot.model.snapshot import content_hash
from pilot.push import interception_mode
from pilot.sources.memory import resources_from_yaml

NODE = "sidecar~10.1.0.15~productpage-v1-0.default~default.svc.cluster.local"


def test_bootstrap_capture_puts_istios_interception_mode_in_node_metadata() -> None:
    assert bootstrap(NODE, interception_mode="REDIRECT")["node"]["metadata"]["INTERCEPTION_MODE"] == "REDIRECT"
    assert "INTERCEPTION_MODE" not in bootstrap(NODE)["node"]["metadata"]


def test_the_control_plane_reads_the_mode_from_the_node_envoy_sends() -> None:
    node = json_format.ParseDict(bootstrap(NODE, interception_mode="REDIRECT")["node"], base_pb2.Node())
    assert interception_mode(node) == "REDIRECT"
    assert interception_mode(base_pb2.Node(id=NODE)) == ""


def test_service_cluster_ip_but_headless_has_none() -> None:
    docs = """
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {clusterIP: 10.96.0.7, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b}
spec: {clusterIP: None, ports: [{port: 80}]}
"""
    a, b = (service_from_resource(r) for r in resources_from_yaml(docs))
    assert (a.cluster_ip, b.cluster_ip) == ("10.96.0.7", "")


def test_capture_ports_from_mesh_config_and_in_the_snapshot_version() -> None:
    mesh = MeshConfig.from_dict({"proxyListenPort": 25001, "proxyInboundListenPort": 25006})
    assert mesh.capture_ports == (25001, 25006)
    assert MeshConfig.from_dict({}).capture_ports == (15001, 15006)
    assert content_hash([], mesh) != content_hash([], MeshConfig())
    assert repr(MeshConfig()) == repr(MeshConfig.from_dict({}))  # versions of existing meshes unchanged
