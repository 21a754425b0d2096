"""The Envoy cross-check of policy tests: layout detection, relocation, and the comparison rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilot.simulate.result import ClusterChoice, EndpointInfo, SimulationResult
from pilot.sources.memory import resources_from_yaml
from pilot.testing.mesh import LoopbackMesh
from pilot.testing.policy_verify import LayoutError, compare, mesh_layout, relocate

REPO = Path(__file__).resolve().parents[3]


def split(*shares: tuple[str, float], status: int = 200) -> SimulationResult:
    r = SimulationResult(source="a.default", request={}, status=status, allowed=True)
    for version, p in shares:
        name = f"outbound|9080|{version}|reviews.default.svc.cluster.local"
        r.clusters.append(ClusterChoice(name, int(p * 100), p))
        r.endpoints.append(EndpointInfo(name, "127.0.0.1", 9080, True, "", {"version": version}))
    return r


def test_split_within_tolerance_passes_and_a_wrong_split_fails() -> None:
    predicted = split(("v1", 0.8), ("v2", 0.2))
    assert compare(predicted, [(200, "v1")] * 795 + [(200, "v2")] * 205) == []
    wrong = compare(predicted, [(200, "v1")] * 700 + [(200, "v2")] * 300)  # 70/30
    assert any("v1 answered 70.0%" in f for f in wrong)


def test_single_destination_must_answer_every_time() -> None:
    predicted = split(("v2", 1.0))
    assert compare(predicted, [(200, "v2")] * 20) == []
    assert any("v1" in f for f in compare(predicted, [(200, "v2")] * 19 + [(200, "v1")]))


def test_status_mismatch_is_reported() -> None:
    predicted = SimulationResult(source="a.default", request={}, status=403, allowed=False, error="denied")
    assert compare(predicted, [(403, "")] * 5) == []
    assert compare(predicted, [(200, "v1")] * 5) == ["envoy: statuses {200: 5}, simulator predicted 403"]


def test_layout_of_the_bundled_bookinfo_and_relocation(tmp_path: Path) -> None:
    files = sorted((REPO / "policies/bookinfo").glob("*.yaml"))
    resources = [r for f in files for r in resources_from_yaml(f.read_text(), str(f))]
    block, mesh = mesh_layout(resources)
    assert block == (127, 10, 0)
    pp = next(p for p in mesh.pods if p.name == "productpage-v1-0")
    assert (pp.ip, pp.bind, pp.admin) == ("127.10.0.10", "127.10.1.10", "127.10.2.10")
    relocate(files, block, (127, 200, 40), tmp_path)
    moved = [r for f in sorted(tmp_path.glob("*.yaml")) for r in resources_from_yaml(f.read_text(), str(f))]
    new_block, new_mesh = mesh_layout(moved)
    assert new_block == (127, 200, 40)
    assert next(p for p in new_mesh.pods if p.name == "productpage-v1-0").ip == "127.200.40.10"
    text = "".join(f.read_text() for f in tmp_path.glob("*.yaml"))
    assert "127.10.0.1" not in text and "bind: 127.200.41.10" in text


def test_layout_errors_name_the_pod() -> None:
    bad = LoopbackMesh.build([("reviews", "v1")]).yaml().replace("reviews-v1-0", "reviews-abc")
    with pytest.raises(LayoutError, match="reviews-abc"):
        mesh_layout(resources_from_yaml(bad))
