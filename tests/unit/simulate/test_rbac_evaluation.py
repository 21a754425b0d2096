"""RBAC evaluation tables: AuthorizationPolicies built into Envoy RBAC filters by pilot/translate/rbac.py,
then evaluated the way Envoy would (DENY before ALLOW, rules ORed, from/to/when ANDed, not* negated).
"""

from __future__ import annotations

from typing import Any

import pytest

from pilot.model.resource import Resource, resource_from_document
from pilot.simulate.inbound import apply_http_rbac
from pilot.simulate.rbac_eval import Peer
from pilot.simulate.request import Request
from pilot.simulate.result import Destination
from pilot.translate.rbac import build_http_rbac_filters

PRODUCTPAGE = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
RATINGS = "spiffe://cluster.local/ns/default/sa/bookinfo-ratings"
OTHER_NS = "spiffe://cluster.local/ns/other/sa/default"


def ap(name: str, action: str, rules: list[Any] | None) -> Resource:
    spec: dict[str, Any] = {"action": action}
    if rules is not None:
        spec["rules"] = rules
    return resource_from_document({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                                   "metadata": {"name": name, "namespace": "default"}, "spec": spec})


def peer(path: str = "/", method: str = "GET", principal: str = "", ip: str = "10.0.0.1",
         headers: dict[str, str] | None = None, port: int = 9080) -> Peer:
    r = Request.from_url(f"http://reviews:9080{path}", method, headers)
    return Peer(headers=r.header_map(), path=r.path, source_ip=ip, destination_ip="10.0.0.9",
                destination_port=port, principal=principal)


def decide(policies: list[Resource], p: Peer) -> tuple[bool, str]:
    by_action: dict[str, list[Resource]] = {}
    for res in policies:
        by_action.setdefault(str(res.spec["action"]), []).append(res)
    dest = Destination(pod="reviews", address="10.0.0.9", port=9080)
    allowed = apply_http_rbac(dest, build_http_rbac_filters(by_action), p)
    assert allowed is dest.allowed
    return allowed, dest.policy


ALLOW_PRODUCTPAGE_GET = ap("allow-pp", "ALLOW", [{
    "from": [{"source": {"principals": ["cluster.local/ns/default/sa/bookinfo-productpage"]}}],
    "to": [{"operation": {"methods": ["GET"], "paths": ["/reviews/*"]}}]}])
DENY_ADMIN = ap("deny-admin", "DENY", [{"to": [{"operation": {"paths": ["/admin", "/admin/*"]}}]}])
DENY_OTHER_NS = ap("deny-other-ns", "DENY", [{"from": [{"source": {"notNamespaces": ["default"]}}]}])
ALLOW_NOTHING = ap("allow-nothing", "ALLOW", None)
ALLOW_ALL = ap("allow-all", "ALLOW", [{}])
ALLOW_IPS = ap("allow-ips", "ALLOW", [{"from": [{"source": {"ipBlocks": ["10.0.0.0/24"]}}]}])
ALLOW_HEADER_WHEN = ap("allow-canary", "ALLOW", [{"when": [{"key": "request.headers[x-canary]",
                                                            "values": ["yes"]}]}])
ALLOW_PORT = ap("allow-port", "ALLOW", [{"to": [{"operation": {"ports": ["9080"], "notMethods": ["DELETE"]}}]}])


@pytest.mark.parametrize(("policies", "p", "allowed", "policy"), [
    ([], peer(), True, ""),  # no policy: allowed
    ([ALLOW_PRODUCTPAGE_GET], peer("/reviews/1", principal=PRODUCTPAGE), True, "policy[allow-pp]"),
    ([ALLOW_PRODUCTPAGE_GET], peer("/reviews/1", principal=RATINGS), False, "no ALLOW policy matched"),
    ([ALLOW_PRODUCTPAGE_GET], peer("/reviews/1"), False, "no ALLOW policy matched"),  # plaintext: no principal
    ([ALLOW_PRODUCTPAGE_GET], peer("/reviews/1", method="POST", principal=PRODUCTPAGE), False, "no ALLOW"),
    ([ALLOW_PRODUCTPAGE_GET], peer("/ratings/1", principal=PRODUCTPAGE), False, "no ALLOW"),
    # DENY wins over a matching ALLOW
    ([ALLOW_ALL, DENY_ADMIN], peer("/admin"), False, "policy[deny-admin]"),
    ([ALLOW_ALL, DENY_ADMIN], peer("/admin/users"), False, "policy[deny-admin]"),
    ([ALLOW_ALL, DENY_ADMIN], peer("/administrator"), True, "policy[allow-all]"),
    ([DENY_ADMIN], peer("/admin?x=1"), False, "policy[deny-admin]"),  # the query is not part of the path
    ([DENY_OTHER_NS], peer(principal=OTHER_NS), False, "policy[deny-other-ns]"),
    ([DENY_OTHER_NS], peer(principal=PRODUCTPAGE), True, ""),
    ([ALLOW_NOTHING], peer(principal=PRODUCTPAGE), False, "no ALLOW"),  # spec without rules allows nothing
    ([ALLOW_ALL], peer(), True, "policy[allow-all]"),
    ([ALLOW_IPS], peer(ip="10.0.0.77"), True, "policy[allow-ips]"),
    ([ALLOW_IPS], peer(ip="10.0.1.77"), False, "no ALLOW"),
    ([ALLOW_HEADER_WHEN], peer(headers={"X-Canary": "yes"}), True, "policy[allow-canary]"),
    ([ALLOW_HEADER_WHEN], peer(headers={"x-canary": "no"}), False, "no ALLOW"),
    ([ALLOW_PORT], peer(method="GET"), True, "policy[allow-port]"),
    ([ALLOW_PORT], peer(method="DELETE"), False, "no ALLOW"),
    ([ALLOW_PORT], peer(port=9090), False, "no ALLOW"),
])
def test_rbac_decisions(policies: list[Resource], p: Peer, allowed: bool, policy: str) -> None:
    got_allowed, got_policy = decide(policies, p)
    assert got_allowed is allowed
    assert policy in got_policy if policy else got_policy == ""
