"""The mesh graph (services, workloads, subsets, routes) and its pictures."""

from __future__ import annotations

import json
from pathlib import Path

from pilot.cli import main
from pilot.model.graph import affected_workloads, svc_node, wl_node
from pilot.model.resource import ConfigKey
from pilot.model.snapshot import build_snapshot
from pilot.sources.yaml_files import load_paths

BOOKINFO = Path(__file__).resolve().parents[2] / "policies/bookinfo"
REVIEWS = "reviews.default.svc.cluster.local"


def _graph():  # type: ignore[no-untyped-def]
    return build_snapshot(load_paths([BOOKINFO])[0]).graph


def test_routes_membership_and_subsets() -> None:
    g = _graph()
    routes = {(v, d["weight"], d["conditional"]) for _u, v, d in g.out_edges(svc_node(REVIEWS), data=True)
              if d["kind"] == "route"}
    assert routes == {(f"subset:{REVIEWS}/v2", 100, True), (f"subset:{REVIEWS}/v1", 80, False),
                      (f"subset:{REVIEWS}/v2", 20, False)}
    members = {u for u, _v, d in g.in_edges(svc_node(REVIEWS), data=True) if d["kind"] == "member"}
    assert members == {wl_node("default", f"reviews-v{i}-0") for i in (1, 2, 3)}


def test_a_sidecar_change_affects_its_workload_and_a_dr_change_the_service_members() -> None:
    g = _graph()
    assert affected_workloads(g, [ConfigKey("Sidecar", "default", "reviews-v2-0")]) == {
        wl_node("default", "reviews-v2-0")}
    assert affected_workloads(g, [ConfigKey("DestinationRule", "default", "reviews")]) == {
        wl_node("default", f"reviews-v{i}-0") for i in (1, 2, 3)}


def test_pictures(tmp_path: Path) -> None:
    svg = tmp_path / "mesh.svg"
    assert main(["graph", "--config", str(BOOKINFO), "-o", str(svg)]) == 0
    text = svg.read_text()
    assert text.startswith("<svg") and "80%" in text and "100% on match, 20%" in text and "reviews / v2" in text
    assert main(["graph", "--config", str(BOOKINFO), "-o", str(tmp_path / "mesh.json")]) == 0
    data = json.loads((tmp_path / "mesh.json").read_text())
    assert any(n["id"] == svg_id for n in data["nodes"] for svg_id in [svc_node(REVIEWS)])
    assert main(["graph", "--config", str(BOOKINFO), "-o", str(tmp_path / "mesh.dot")]) == 0
    assert "digraph mesh" in (tmp_path / "mesh.dot").read_text()
    assert main(["graph", "--config", str(BOOKINFO), "-o", str(tmp_path / "mesh.bmp")]) == 2
