"""Summary tables and filters of `pilot proxy-config`, built from Bookinfo translated offline."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pilot.cli_policy import load_resources
from pilot.model.snapshot import build_snapshot
from pilot.proxyconfig.dump import CLUSTER, SECRET, istio_config_ref
from pilot.proxyconfig.listener_rows import chain_destination, chain_match, describe_domains, route_match
from pilot.proxyconfig.offline import OfflineProxy, translate_pod
from pilot.proxyconfig.tables import FilterError, Filters, Summary, filtered_resources, summarize
from pilot.testing.tls import self_signed

BOOKINFO = Path(__file__).resolve().parents[3] / "policies/bookinfo"
REVIEWS = "reviews.default.svc.cluster.local"


@pytest.fixture(scope="module")
def productpage() -> OfflineProxy:
    return translate_pod(build_snapshot(load_resources([BOOKINFO], quiet=True)), "productpage-v1-0.default")


def table(proxy: OfflineProxy, kind: str, **filters: object) -> Summary:
    return summarize(proxy.dump, kind, Filters(**filters),  # type: ignore[arg-type]
                     proxy.destination_rule, proxy.virtual_service)


def cells(summary: Summary) -> list[tuple[str, ...]]:
    return [r.cells for r in summary.rows]


def test_clusters_split_istio_names_and_name_their_destination_rule(productpage: OfflineProxy) -> None:
    s = table(productpage, "cluster")
    assert s.columns == ("SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE")
    rows = cells(s)
    assert (REVIEWS, "9080", "v2", "outbound", "EDS", "reviews.default") in rows
    assert ("BlackHoleCluster", "-", "-", "-", "STATIC", "") in rows
    assert ("", "9080", "-", "inbound", "STATIC", "") in rows  # inbound|9080||: no DR on inbound
    fqdns = [r[0] for r in rows]
    assert fqdns == sorted(fqdns)  # istioctl's order: FQDN, then port and subset
    reviews = [r[2] for r in rows if r[0] == REVIEWS]
    assert reviews == ["-", "v1", "v2", "v3"]


def test_cluster_filters(productpage: OfflineProxy) -> None:
    assert [r[2] for r in cells(table(productpage, "cluster", fqdn="reviews"))] == ["-", "v1", "v2", "v3"]
    assert [r[2] for r in cells(table(productpage, "cluster", fqdn=REVIEWS, subset="v3"))] == ["v3"]
    assert {r[3] for r in cells(table(productpage, "cluster", direction="inbound"))} == {"inbound"}
    assert cells(table(productpage, "cluster", port=9081)) == []
    assert cells(table(productpage, "cluster", fqdn="review")) == []  # a name prefix is not a host
    one = table(productpage, "cluster", name=f"outbound|9080|v1|{REVIEWS}")
    assert [c["name"] for c in filtered_resources(productpage.dump, "cluster", one)] == [
        f"outbound|9080|v1|{REVIEWS}"]


def test_a_filter_the_kind_has_no_column_for_is_an_error(productpage: OfflineProxy) -> None:
    with pytest.raises(FilterError, match="--fqdn does not apply to route"):
        table(productpage, "route", fqdn="reviews")


def test_listeners_one_row_per_filter_chain(productpage: OfflineProxy) -> None:
    s = table(productpage, "listener")
    assert s.columns == ("ADDRESSES", "PORT", "MATCH", "DESTINATION")
    assert ("127.10.0.10", "9080", "ALL", "Inline Route: /*") in cells(s)  # inbound, on the pod IP
    assert ("127.10.1.10", "9080", "ALL", "Route: 9080") in cells(s)  # outbound, on the bind address
    assert cells(table(productpage, "listener", address="127.10.1.10")) == [
        ("127.10.1.10", "9080", "ALL", "Route: 9080")]


def test_routes_name_the_virtual_service(productpage: OfflineProxy) -> None:
    s = table(productpage, "route", name="9080")
    rows = [r for r in cells(s) if r[1] == f"{REVIEWS}:9080"]
    assert rows and all(r[0] == "9080" and r[3] == "/*" and r[4] == "reviews.default" for r in rows)
    assert rows[0][2] == "reviews, reviews.default + 2 more..."
    details = next(r for r in cells(s) if r[1].startswith("details."))
    assert details[4] == "-"  # no VirtualService routes details
    assert cells(table(productpage, "route", name="15010")) == []


def test_endpoints_include_static_clusters_and_filter(productpage: OfflineProxy) -> None:
    s = table(productpage, "endpoint")
    assert s.columns == ("ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER")
    assert ("127.10.0.14:9080", "HEALTHY", "-", f"outbound|9080|v2|{REVIEWS}") in cells(s)
    assert ("127.10.0.10:8080", "HEALTHY", "-", "inbound|9080||") in cells(s)  # the app, inline
    v2 = cells(table(productpage, "endpoint", cluster=f"outbound|9080|v2|{REVIEWS}"))
    assert [r[0] for r in v2] == ["127.10.0.14:9080"]
    assert {r[3] for r in cells(table(productpage, "endpoint", address="127.10.0.14"))} == {
        f"outbound|9080|v2|{REVIEWS}", f"outbound|9080||{REVIEWS}"}
    assert cells(table(productpage, "endpoint", status="unhealthy")) == []


def test_secrets_show_certificate_validity_and_serial() -> None:
    cert = self_signed()
    pem = base64.b64encode(cert.cert_pem).decode()
    dump = {SECRET: {
        "default": {"name": "default", "tlsCertificate": {"certificateChain": {"inlineBytes": pem},
                                                          "privateKey": {"inlineString": "[redacted]"}}},
        "ROOTCA": {"name": "ROOTCA", "validationContext": {"trustedCa": {"inlineBytes": pem}}},
        "broken": {"name": "broken", "validationContext": {"trustedCa": {"inlineBytes": "bm9wZQ=="}}}}}
    rows = {r[0]: r for r in cells(summarize(dump, "secret"))}
    from cryptography import x509

    parsed = x509.load_pem_x509_certificate(cert.cert_pem)
    assert rows["default"][:4] == ("default", "Cert Chain", "ACTIVE", "true")
    assert rows["default"][4] == format(parsed.serial_number, "x")
    assert rows["default"][5] == parsed.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows["ROOTCA"][1] == "CA" and rows["ROOTCA"][3] == "true"
    assert rows["broken"][3] == "false"


def test_istio_config_metadata_wins_when_present() -> None:
    ref = {"metadata": {"filterMetadata": {"istio": {
        "config": "/apis/networking.istio.io/v1/namespaces/shop/destination-rule/reviews-dr"}}}}
    assert istio_config_ref(ref) == "reviews-dr.shop"
    dump = {CLUSTER: {"outbound|80||a.shop.svc.cluster.local": {
        "name": "outbound|80||a.shop.svc.cluster.local", "type": "EDS", **ref}}}
    row = summarize(dump, "cluster", destination_rules=lambda host: "other.ns").rows[0]
    assert row.cells[-1] == "reviews-dr.shop"


def test_filter_chain_match_and_destination_rendering() -> None:
    assert chain_match({}) == "ALL"
    assert chain_match({"transportProtocol": "raw_buffer", "applicationProtocols": ["http/1.1", "h2c"]}) == \
        "Trans: raw_buffer; App: http/1.1,h2c"
    assert chain_match({"serverNames": ["a.example.com"], "prefixRanges": [
        {"addressPrefix": "10.0.0.0", "prefixLen": 8}]}) == "Addr: 10.0.0.0/8; SNI: a.example.com"
    tcp = {"filters": [{"name": "envoy.filters.network.tcp_proxy", "typedConfig": {"cluster": "outbound|3306||db"}}]}
    assert chain_destination(tcp) == "Cluster: outbound|3306||db"
    assert chain_destination({"filters": []}) == "Non-HTTP/Non-TCP"
    assert [route_match(m) for m in ({"prefix": "/api"}, {"path": "/x"}, {"safeRegex": {"regex": "/v[0-9]"}})] \
        == ["/api*", "/x", "/v[0-9]"]
    assert describe_domains(["a", "a:80"]) == "a"


GATEWAY_POD = """
apiVersion: v1
kind: Pod
metadata: {name: istio-ingressgateway-0, namespace: default, labels: {istio: ingressgateway}}
spec: {containers: [{name: proxy, image: envoy}]}
status: {podIP: 127.10.0.30}
"""


def test_a_gateway_pod_translated_as_router_names_its_bound_virtual_service(tmp_path: Path) -> None:
    (tmp_path / "gw.yaml").write_text(GATEWAY_POD)
    sample = Path(__file__).resolve().parents[2] / "fixtures/istio/samples/bookinfo/networking/bookinfo-gateway.yaml"
    snap = build_snapshot(load_resources([BOOKINFO, sample, tmp_path / "gw.yaml"], quiet=True))
    gw = translate_pod(snap, "istio-ingressgateway-0.default", "router")
    assert cells(table(gw, "listener")) == [("127.10.0.30", "8080", "ALL", "Route: http.8080")]
    routes = cells(table(gw, "route"))
    assert ("http.8080", "*:8080", "*", "/productpage", "bookinfo.default") in routes
    assert {r[4] for r in routes} == {"bookinfo.default"}
    # The same pod as a sidecar has no gateway listener.
    assert "Route: http.8080" not in {r[3] for r in cells(table(translate_pod(snap, "istio-ingressgateway-0"),
                                                                 "listener"))}
