"""The dashboard graph of Bookinfo: versioned nodes, route weights, caller edges with rates, layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pilot.dashboard.rates import RequestKey
from pilot.dashboard.view import mesh_view
from pilot.model.snapshot import build_snapshot
from pilot.sources.yaml_files import load_paths

BOOKINFO = Path(__file__).resolve().parents[3] / "policies/bookinfo"
SUFFIX = ".default.svc.cluster.local"


def _view(traffic: dict[RequestKey, float], seconds: float = 10.0) -> dict[str, Any]:
    return mesh_view(build_snapshot(load_paths([BOOKINFO])[0]).graph, traffic, seconds)


def _edges(view: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["source"], e["target"]): e for e in view["edges"]}


def key(reporter: str, src: str, dest: str, version: str, code: str = "200") -> RequestKey:
    return RequestKey(reporter, src, "default", dest + SUFFIX, version, code)


def test_idle_mesh_shows_every_service_version_and_route_weight() -> None:
    view = _view({})
    labels = {n["label"] for n in view["nodes"]}
    assert {"productpage", "details", "reviews", "ratings"} <= labels
    assert {"reviews v1", "reviews v2", "reviews v3", "ratings v1"} <= labels
    edges = _edges(view)
    assert edges[("svc:reviews" + SUFFIX, "ver:reviews" + SUFFIX + "/v1")]["weight"] == "80%"
    assert edges[("svc:reviews" + SUFFIX, "ver:reviews" + SUFFIX + "/v2")]["weight"] == "100% on match, 20%"
    assert edges[("svc:reviews" + SUFFIX, "ver:reviews" + SUFFIX + "/v3")]["weight"] is None
    assert all(e["kind"] == "route" and e["rps"] == 0 for e in edges.values())
    assert {n["id"]: n["pods"] for n in view["nodes"]}["ver:reviews" + SUFFIX + "/v2"] == ["reviews-v2-0"]


def test_caller_edges_use_source_reports_and_version_edges_destination_reports() -> None:
    traffic = {
        key("source", "productpage-v1", "reviews", "v1"): 40.0,
        key("source", "productpage-v1", "reviews", "v2", "503"): 10.0,
        key("destination", "unknown", "reviews", "v1"): 40.0,
        key("destination", "unknown", "reviews", "v2", "503"): 10.0,
        key("source", "reviews-v2", "ratings", "unknown"): 5.0,  # the caller's own pod name works too
    }
    edges = _edges(_view(traffic, 10.0))
    pp_reviews = edges[("ver:productpage" + SUFFIX + "/v1", "svc:reviews" + SUFFIX)]
    assert (pp_reviews["kind"], pp_reviews["rps"], pp_reviews["error_ratio"]) == ("traffic", 5.0, 0.2)
    v2 = edges[("svc:reviews" + SUFFIX, "ver:reviews" + SUFFIX + "/v2")]
    assert (v2["rps"], v2["error_ratio"]) == (1.0, 1.0)
    assert edges[("svc:reviews" + SUFFIX, "ver:reviews" + SUFFIX + "/v1")]["error_ratio"] == 0.0
    assert edges[("ver:reviews" + SUFFIX + "/v2", "svc:ratings" + SUFFIX)]["rps"] == 0.5
    # No edge from an "unknown" caller: the destination reports are the same requests.
    assert not any(src.startswith("unknown:") for src, _ in edges)


def test_unknown_callers_and_services_get_nodes() -> None:
    view = _view({key("source", "curl", "reviews", "v1"): 1.0,
                  RequestKey("source", "productpage-v1", "default", "httpbin.org", "unknown", "200"): 2.0})
    ids = {n["id"]: n for n in view["nodes"]}
    assert ids["unknown:curl"]["type"] == "unknown"
    assert ids["svc:httpbin.org"]["sublabel"] == "not in config"


def test_layout_runs_left_to_right_along_the_calls() -> None:
    traffic = {key("source", "productpage-v1", "reviews", "v1"): 1.0,
               key("source", "reviews-v2", "ratings", "unknown"): 1.0}
    x = {n["id"]: n["x"] for n in _view(traffic)["nodes"]}
    order = ["svc:productpage" + SUFFIX, "ver:productpage" + SUFFIX + "/v1", "svc:reviews" + SUFFIX,
             "ver:reviews" + SUFFIX + "/v2", "svc:ratings" + SUFFIX, "ver:ratings" + SUFFIX + "/v1"]
    assert [x[n] for n in order] == sorted(x[n] for n in order) and len({x[n] for n in order}) == len(order)
    # A call back to an earlier service (a cycle) still lays out.
    cyclic = {key("source", "ratings-v1", "productpage", "unknown"): 1.0, **traffic}
    assert all("x" in n and "y" in n for n in _view(cyclic)["nodes"])
