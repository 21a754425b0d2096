"""Every example in policies/ratelimit validates, and translates with no findings for the proxies it selects."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.sources.yaml_files import load_paths
from pilot.testing.mesh import LoopbackMesh
from pilot.translate.generate import generate_with_findings
from pilot.validation import validate_resource

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "policies/ratelimit").glob("*.yaml"))
MESH = LoopbackMesh.build([("productpage", "v1"), ("ratings", "v1")], block=(127, 41, 0))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_and_translates_cleanly(path: Path) -> None:
    resources, findings, _ = load_paths([path])
    assert resources and not findings
    assert [f.line() for r in resources for f in validate_resource(r)] == []
    snap = build_snapshot(resources_from_yaml(MESH.yaml()) + resources,
                          MeshConfig(rate_limit_service="127.0.0.1:15099"))
    for pod in MESH.pods:
        _out, translation = generate_with_findings(snap, snap.proxy_view(NodeId.parse(pod.node_id)))
        assert [f.line() for f in translation] == [], pod.name


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 4
