"""Flipping a revision between pods and the activator is an EDS-only push: routes and clusters stay."""

from __future__ import annotations

import yaml
from envoy.config.endpoint.v3 import endpoint_pb2

from pilot.model.mesh import MeshConfig
from pilot.model.resource import ConfigKey
from pilot.model.revisions import REVISION_MODE_KIND, RevisionModes
from pilot.push import MeshController
from pilot.sources.memory import MemorySource, resources_from_yaml
from pilot.sources.store import ConfigStore
from pilot.testing.knative_lab import lab_documents, pod_document
from pilot.testing.mesh import LoopbackMesh
from pilot.xds.cache import ResourceCache
from pilot.xds.types import ENDPOINT
from tests.unit.activator.lab import ACTIVATOR, HELLO, OTHER

CLUSTER = f"outbound|80||{HELLO.name}.default.svc.cluster.local"


class Node:
    def __init__(self, node_id: str) -> None:
        self.id = node_id


async def _controller(*warm):  # type: ignore[no-untyped-def]
    mesh = LoopbackMesh()
    gw = mesh.add_gateway(service_ports=((80, 8080),))
    docs = mesh.documents() + lab_documents([HELLO, OTHER]) + [pod_document(r) for r in warm]
    store = ConfigStore()
    src = MemorySource(store)
    src.set_all(resources_from_yaml(yaml.safe_dump_all(docs)))
    ctl = MeshController(store, ResourceCache(), MeshConfig())
    ctl.revision_modes = RevisionModes(ACTIVATOR)
    await ctl.push_all()
    await ctl.on_connect(Node(gw.node_id), {}, "peer")
    return ctl, gw.node_id, src


def _versions(ctl: MeshController, node_id: str) -> dict[str, str]:
    node = ctl.cache.get(node_id)
    assert node is not None
    return {t.rsplit(".", 1)[-1]: tr.version for t, tr in node.types.items()}


def _endpoints(ctl: MeshController, node_id: str) -> list[tuple[str, int]]:
    node = ctl.cache.get(node_id)
    assert node is not None
    cla = endpoint_pb2.ClusterLoadAssignment()
    node.of(ENDPOINT).resources[CLUSTER].any.Unpack(cla)
    return [(lb.endpoint.address.socket_address.address, lb.endpoint.address.socket_address.port_value)
            for loc in cla.endpoints for lb in loc.lb_endpoints]


async def test_forcing_proxy_and_back_changes_only_eds() -> None:
    ctl, node_id, _src = await _controller(HELLO)
    assert _endpoints(ctl, node_id) == [(HELLO.ip, 8080)]
    before = _versions(ctl, node_id)
    key = {ConfigKey(REVISION_MODE_KIND, "default", HELLO.name)}
    await ctl.push_all(set(key), revision_modes=RevisionModes(ACTIVATOR, frozenset({("default", HELLO.name)})))
    assert _endpoints(ctl, node_id) == [ACTIVATOR]
    after = _versions(ctl, node_id)
    assert {t for t in before if before[t] != after[t]} == {"ClusterLoadAssignment"}
    assert ctl.stats.endpoint_only_updates == 1  # nothing was translated again
    await ctl.push_all(set(key), revision_modes=RevisionModes(ACTIVATOR))
    assert _endpoints(ctl, node_id) == [(HELLO.ip, 8080)]
    assert _versions(ctl, node_id) == before


async def test_the_last_pod_going_away_leaves_the_activator_never_an_empty_assignment() -> None:
    ctl, node_id, src = await _controller(HELLO)
    before = _versions(ctl, node_id)
    pod = next(r for r in ctl.store.resources() if r.kind == "Pod" and r.name.startswith(HELLO.name))
    src.delete(pod)
    await ctl.push_all({pod.key})
    assert _endpoints(ctl, node_id) == [ACTIVATOR]
    after = _versions(ctl, node_id)
    assert {t for t in before if before[t] != after[t]} == {"ClusterLoadAssignment"}
