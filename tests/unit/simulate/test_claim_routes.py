"""Routes matching on dynamic metadata (VirtualService JWT claim matches): the simulator carries no JWT, so
a claim match fails, an inverted one holds, and the result says so."""

from __future__ import annotations

from pathlib import Path

from envoy.config.route.v3 import route_components_pb2 as rc

from pilot.cli_policy import load_resources
from pilot.model.snapshot import build_snapshot
from pilot.simulate.engine import Simulator
from pilot.simulate.request import Request
from pilot.simulate.routing import select_route
from pilot.sources.memory import resources_from_yaml
from pilot.translate.route_match import route_match

BOOKINFO = Path(__file__).resolve().parents[3] / "policies/bookinfo"


def _route(name: str, match: dict[str, object]) -> rc.Route:
    return rc.Route(name=name, match=route_match(match))


def test_claim_match_fails_and_is_noted() -> None:
    routes = [_route("admins", {"headers": {"@request.auth.claims.groups": {"exact": "admin"}}}),
              _route("rest", {})]
    notes: list[str] = []
    picked = select_route(routes, Request.from_url("http://reviews/"), notes)
    assert picked is not None and picked.name == "rest"
    assert len(notes) == 1 and "'admins'" in notes[0] and "envoy.filters.http.jwt_authn" in notes[0]


def test_inverted_claim_match_holds_without_a_token() -> None:
    routes = [_route("not-guests", {"withoutHeaders": {"@request.auth.claims.groups": {"exact": "guest"}}}),
              _route("rest", {})]
    picked = select_route(routes, Request.from_url("http://reviews/"))
    assert picked is not None and picked.name == "not-guests"


def test_routes_without_metadata_matches_leave_no_note() -> None:
    notes: list[str] = []
    assert select_route([_route("rest", {})], Request.from_url("http://reviews/"), notes) is not None
    assert notes == []


CLAIM_VS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-claims, namespace: default}
spec:
  hosts: [reviews]
  gateways: [mesh, edge]
  http:
  - match: [{headers: {"@request.auth.claims.groups": {exact: admin}}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - route: [{destination: {host: reviews, subset: v1}}]
"""


def test_sidecar_simulation_skips_the_claim_route_with_a_note() -> None:
    resources = [r for r in load_resources([BOOKINFO], quiet=True)
                 if not (r.kind == "VirtualService" and r.name == "reviews")]
    snapshot = build_snapshot(resources + resources_from_yaml(CLAIM_VS))
    r = Simulator(snapshot).run("productpage-v1-0.default", Request.from_url("http://reviews:9080/reviews/1"))
    assert not r.error, r.to_dict()
    assert [c.name for c in r.clusters] == ["outbound|9080|v1|reviews.default.svc.cluster.local"]
    assert any("not simulated" in n and "JWT claims" in n for n in r.notes), r.notes
