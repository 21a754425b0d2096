"""The netns lab's pure parts: laying Kubernetes YAML out as pods, /etc/hosts, istio-init's rules, the
captured pod's bootstrap, `pilot mesh up` input handling and `mesh down`'s state clean-up."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
import yaml

from pilot.mesh_lab import MeshUpError, read_inputs
from pilot.mesh_loopback import loopback_documents, loopback_mesh
from pilot.testing import netns, netns_state
from pilot.testing.istio_iptables import CaptureConfig, nat_rules, restore_input
from pilot.testing.netns_layout import LayoutError, lay_out
from pilot.testing.netns_pods import app_specs, pod_bootstrap

BOOKINFO = Path(__file__).resolve().parents[2] / "fixtures/istio/samples/bookinfo"


def bookinfo() -> list[dict]:
    return [d for d in yaml.safe_load_all((BOOKINFO / "platform/kube/bookinfo.yaml").read_text()) if d]


def test_every_deployment_becomes_a_pod_and_every_service_gets_a_cluster_ip() -> None:
    layout = lay_out(bookinfo())
    assert [p.name for p in layout.pods] == ["details-v1-0", "ratings-v1-0", "reviews-v1-0", "reviews-v2-0",
                                             "reviews-v3-0", "productpage-v1-0"]
    v2 = layout.pod("reviews", "v2")
    assert (v2.service_account, v2.ports, v2.label_map) == ("bookinfo-reviews", (9080,),
                                                            {"app": "reviews", "version": "v2"})
    assert len({p.ip for p in layout.pods}) == 6
    assert all(ipaddress.ip_address(p.ip) in ipaddress.ip_network("10.213.0.0/16") for p in layout.pods)
    kinds = [d["kind"] for d in layout.documents]
    assert "Deployment" not in kinds and "ServiceAccount" not in kinds and kinds.count("Pod") == 6
    # What the control plane reads carries the same addresses the pods' /etc/hosts name.
    svc = {d["metadata"]["name"]: d["spec"]["clusterIP"] for d in layout.documents if d["kind"] == "Service"}
    assert svc == {s.name: s.cluster_ip for s in layout.services}
    pods = {d["metadata"]["name"]: d["status"]["podIP"] for d in layout.documents if d["kind"] == "Pod"}
    assert pods == {p.name: p.ip for p in layout.pods}


def test_replicas_existing_cluster_ips_and_headless_services() -> None:
    docs = bookinfo()
    docs[0]["spec"]["clusterIP"] = "10.214.0.10"  # details keeps its own; nobody else may get it
    docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hl"},
                 "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})
    next(d for d in docs if d["kind"] == "Deployment")["spec"]["replicas"] = 2
    layout = lay_out(docs)
    assert [p.name for p in layout.pods][:2] == ["details-v1-0", "details-v1-1"]
    ips = [s.cluster_ip for s in layout.services]
    assert ips[0] == "10.214.0.10" and len(set(ips)) == len(ips) and "hl" not in [s.name for s in layout.services]


def test_a_layout_needs_workloads_and_pod_ips_in_range() -> None:
    with pytest.raises(LayoutError, match="no Deployment or Pod"):
        lay_out([{"kind": "Service", "metadata": {"name": "a"}, "spec": {}}])
    with pytest.raises(LayoutError, match="outside the lab"):
        lay_out([{"kind": "Pod", "metadata": {"name": "a"}, "status": {"podIP": "127.0.0.5"}}])


def test_hosts_file_names_services_as_kubernetes_dns_would() -> None:
    layout = lay_out(bookinfo())
    reviews = next(s for s in layout.services if s.name == "reviews")
    hosts = layout.hosts_file(layout.pod("productpage")).splitlines()
    assert (f"{reviews.cluster_ip} reviews reviews.default reviews.default.svc "
            "reviews.default.svc.cluster.local") in hosts
    assert reviews.host_names("other")[0] == "reviews.default"  # a short name only within its namespace


def test_nat_rules_follow_istio_init() -> None:
    rules = nat_rules()
    assert "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001" in rules
    assert "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006" in rules
    excluded = [r.split("--dport ")[1].split()[0] for r in rules if r.endswith("-j RETURN") and "ISTIO_INBOUND" in r]
    assert excluded == ["15008", "15090", "15021", "15020", "15000"]
    # Excluded ports return before the catch-all redirect; the proxy's uid returns before ISTIO_REDIRECT.
    assert rules.index("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT") > rules.index(
        "-A ISTIO_INBOUND -p tcp --dport 15000 -j RETURN")
    out = [r for r in rules if r.startswith("-A ISTIO_OUTPUT")]
    assert out[0] == "-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN"
    assert "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN" in out
    assert out[-2:] == ["-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN", "-A ISTIO_OUTPUT -j ISTIO_REDIRECT"]
    custom = restore_input(CaptureConfig(outbound_port=25001, inbound_port=25006, proxy_uid=7))
    assert "--to-ports 25001" in custom and "--uid-owner 7" in custom
    assert custom.startswith("*nat\n:ISTIO_INBOUND - [0:0]") and custom.endswith("COMMIT\n")


def test_captured_pod_bootstrap(tmp_path: Path) -> None:
    pod = lay_out(bookinfo()).pod("productpage")
    doc = pod_bootstrap(pod, tmp_path / "xds.sock", token="t")
    assert doc["node"]["metadata"]["INTERCEPTION_MODE"] == "REDIRECT"
    assert doc["node"]["id"] == f"sidecar~{pod.ip}~productpage-v1-0.default~default.svc.cluster.local"
    xds = next(c for c in doc["static_resources"]["clusters"] if c["name"] == "xds-grpc")
    address = xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert address == {"pipe": {"path": str(tmp_path / "xds.sock")}}
    assert doc["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 15000}
    assert "cluster_manager" not in doc  # the pod has its own IP; no loopback source binding
    assert app_specs(pod) == ["productpage:v1@0.0.0.0:9080/productpage-v1-0"]


def test_mesh_up_inputs(tmp_path: Path) -> None:
    (tmp_path / "vs.yaml").write_text((BOOKINFO / "networking/virtual-service-reviews-80-20.yaml").read_text())
    docs, watched = read_inputs([str(BOOKINFO / "platform/kube/bookinfo.yaml"), str(tmp_path / "vs.yaml")])
    assert {d["kind"] for d in docs} == {"Service", "ServiceAccount", "Deployment"}
    assert watched == [tmp_path / "vs.yaml"]  # policy-only files are followed live, not copied
    (tmp_path / "bad.yaml").write_text("a: [")
    with pytest.raises(MeshUpError, match=r"bad\.yaml"):
        read_inputs([str(tmp_path / "bad.yaml")])
    with pytest.raises(MeshUpError, match="no such file"):
        read_inputs([str(tmp_path / "missing.yaml")])


def test_loopback_fallback_keeps_the_users_policies() -> None:
    docs = bookinfo() + [d for d in yaml.safe_load_all(
        (BOOKINFO / "networking/destination-rule-all.yaml").read_text()) if d]
    layout = lay_out(docs)
    mesh = loopback_mesh(layout)
    out = loopback_documents(layout, mesh)
    assert [p.name for p in mesh.pods] == [p.name for p in layout.pods]
    assert mesh.pod("reviews", "v2").sa == "bookinfo-reviews"
    assert sum(d["kind"] == "DestinationRule" for d in out) == 4
    assert all(d["status"]["podIP"].startswith("127.") for d in out if d["kind"] == "Pod")


def test_host_collisions_read_addresses_and_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    said = {"addr": "2: eth0    inet 10.213.7.2/24 brd 10.213.7.255 scope global eth0\n",
            "route": "default via 192.0.2.1 dev eth0\nlocal 10.214.1.1 dev lo table local\n"}
    monkeypatch.setattr(netns, "run", lambda argv, stdin=None: said["addr" if "addr" in argv else "route"])
    found = netns.host_collisions(ipaddress.IPv4Network("10.213.0.0/16"), ipaddress.IPv4Network("10.214.0.0/16"))
    assert found == ["eth0 has 10.213.7.0/24", "route local 10.214.1.1 dev lo table local"]
    said.update(addr="", route="default via 10.213.0.1 dev eth0\n")  # a default route claims nothing
    assert netns.host_collisions(ipaddress.IPv4Network("10.213.0.0/16")) == []


def test_cleanup_state_touches_only_what_the_state_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deleted: list[str] = []
    monkeypatch.setattr(netns, "NETNS_RUN_DIR", tmp_path)
    monkeypatch.setattr(netns, "delete_netns", deleted.append)
    for name in ("mpabc123-node", "mpabc123-a.default", "other-ns"):
        (tmp_path / name).touch()
    work = tmp_path / "work"
    work.mkdir()
    state = tmp_path / "mpabc123.json"
    # pid 1 is not ours (no marker in its environment): never signalled.
    state.write_text(json.dumps({"prefix": "mpabc123", "workdir": str(work), "pids": [1],
                                 "netns": ["mpabc123-node", "mpabc123-a.default", "other-ns"]}))
    removed = netns_state.cleanup_state(state)
    assert deleted == ["mpabc123-a.default", "mpabc123-node"]
    assert removed == ["netns mpabc123-a.default", "netns mpabc123-node"]
    assert not work.exists() and not state.exists()
