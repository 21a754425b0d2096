"""Issue 13: Bookinfo's own YAML on real pods: one network namespace per pod behind istio-init's iptables
rules, the app calling `http://reviews:9080/` as its own uid, Envoy as uid 1337 capturing everything.
Runs only as root with network namespaces and iptables (skipped with the reason otherwise)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pilot.testing import netns
from pilot.testing.istio_iptables import PROXY_UID
from pilot.testing.netns_lab import NetnsLab

pytestmark = pytest.mark.e2e

BOOKINFO = Path(__file__).resolve().parents[1] / "fixtures/istio/samples/bookinfo"
N = 500

STRICT = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
          "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}}
DENY_PRODUCTPAGE_TO_RATINGS = {
    "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
    "metadata": {"name": "ratings-deny-productpage", "namespace": "default"},
    "spec": {"selector": {"matchLabels": {"app": "ratings"}}, "action": "DENY",
             "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/bookinfo-productpage"]}}]}]}}


def bookinfo_docs() -> list[dict[str, Any]]:
    files = ["platform/kube/bookinfo.yaml", "networking/destination-rule-all.yaml",
             "networking/virtual-service-reviews-80-20.yaml"]
    docs = [d for f in files for d in yaml.safe_load_all((BOOKINFO / f).read_text()) if d]
    return [*docs, STRICT, DENY_PRODUCTPAGE_TO_RATINGS]


@pytest.fixture(scope="module")
def lab() -> Iterator[NetnsLab]:
    reason = netns.unsupported_reason()
    if reason:
        pytest.skip(f"needs network namespaces and iptables: {reason}")
    host_before = host_network()
    lab = NetnsLab(bookinfo_docs())
    try:
        lab.up()
        yield lab
    except BaseException:
        print(lab.report())
        raise
    finally:
        names = [lab.node_netns, *(lab.netns_of(p) for p in lab.layout.pods)]
        lab.down()
        left = [n for n in names if (netns.NETNS_RUN_DIR / n).exists() or (netns.NETNS_ETC_DIR / n).exists()]
        assert not left, f"namespaces left behind: {left}"
        assert not any(p.alive() for p in lab.group.procs)
        assert host_network() == host_before  # the host's links, addresses, routes and nat rules: untouched


def host_network() -> list[str]:
    return [netns.run(argv) for argv in (["ip", "-o", "link", "show"], ["ip", "-o", "addr", "show"],
                                         ["ip", "route", "show", "table", "all"], ["iptables", "-t", "nat", "-S"])]


def test_app_calls_reviews_by_name_and_the_80_20_split_holds(lab: NetnsLab) -> None:
    pp = lab.pod("productpage")
    got = lab.call(pp, "http://reviews:9080/", N)["answers"]
    assert sum(got.values()) == N and set(got) <= {"v1", "v2"}, got
    assert abs(100 * got.get("v1", 0) / N - 80) <= 5, got
    for name in ("reviews.default", "reviews.default.svc.cluster.local", lab.cluster_ip("reviews")):
        assert set(lab.call(pp, f"http://{name}:9080/", 10)["answers"]) <= {"v1", "v2"}, name


def test_the_server_app_sees_every_request_arrive_through_its_sidecar(lab: NetnsLab) -> None:
    pp, ratings = lab.pod("productpage"), lab.pod("ratings")
    got = lab.call(lab.pod("reviews", "v1"), "http://ratings:9080/", 5)
    assert got["answers"] == {"v1": 5}, got
    # The inbound passthrough connects from 127.0.0.6; a request that skipped Envoy would show a pod IP.
    assert got["last"]["client"] == "127.0.0.6"
    assert pp.ip not in json.dumps(lab.call(ratings, "http://127.0.0.1:9080/__requests")["last"])


def test_authorization_policy_deny_holds(lab: NetnsLab) -> None:
    assert lab.call(lab.pod("productpage"), "http://ratings:9080/", 5)["answers"] == {"HTTP 403": 5}
    assert lab.call(lab.pod("reviews", "v2"), "http://ratings:9080/", 5)["answers"] == {"v1": 5}


def test_a_captured_app_cannot_bypass_its_sidecar(lab: NetnsLab) -> None:
    pp, v3 = lab.pod("productpage"), lab.pod("reviews", "v3")
    # Straight to a pod IP, as the app's uid: iptables hands it to productpage's Envoy all the same,
    # which has no route for that Host and passes it through in plaintext, which STRICT v3 refuses.
    direct = lab.call(pp, f"http://{v3.ip}:9080/", 3)
    assert "v3" not in direct["answers"], direct
    assert pp.ip not in json.dumps(lab.call(v3, "http://127.0.0.1:9080/__requests")["last"])
    assert lab.envoy_counter(pp, "PassthroughCluster.upstream_cx_total") >= 1


@pytest.mark.parametrize("where", ["outside every pod", "as uid 1337 in productpage"])
def test_plaintext_to_a_strict_pod_fails(lab: NetnsLab, where: str) -> None:
    pp, v2 = lab.pod("productpage"), lab.pod("reviews", "v2")
    pod, uid = (None, 0) if where == "outside every pod" else (pp, PROXY_UID)
    got = lab.call(pod, f"http://{v2.ip}:9080/", 2, uid=uid)
    assert "v2" not in got["answers"] and not any(a.startswith("HTTP") for a in got["answers"]), got
