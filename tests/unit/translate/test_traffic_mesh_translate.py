"""ServiceEntry clusters, TCP/TLS routes, Sidecar scoping and gateway translation, checked on protobufs."""

from __future__ import annotations

import base64

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2, tls_pb2

from pilot.model.proxy import NodeId
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.translate.generate import CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, generate

MESH = """
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {selector: {app: echo}, ports: [{name: tcp, port: 9000}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
status: {podIP: 127.7.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: scoped, namespace: default, labels: {app: scoped}}
status: {podIP: 127.7.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: default, labels: {app: web}}
status: {podIP: 127.7.0.3}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: client, namespace: default}
spec:
  workloadSelector: {labels: {app: client}}
  egress:
  - {port: {number: 9080, protocol: HTTP, name: http}, bind: 127.7.1.1, hosts: ["./*"]}
  - {port: {number: 9000, protocol: TCP, name: tcp}, bind: 127.7.1.1, hosts: ["./*"]}
  - {port: {number: 9443, protocol: TLS, name: tls}, bind: 127.7.1.1, hosts: ["./*"]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: scoped, namespace: default}
spec:
  workloadSelector: {labels: {app: scoped}}
  egress:
  - port: {number: 9080, protocol: HTTP, name: http}
    bind: 127.7.1.2
    hosts: ["./web.default.svc.cluster.local"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  tcp:
  - match: [{port: 9000, sourceLabels: {app: nobody}}]
    route: [{destination: {host: echo, subset: v9}}]
  - match: [{port: 9000}]
    route:
    - {destination: {host: echo, subset: v1}, weight: 70}
    - {destination: {host: echo, subset: v2}, weight: 30}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}, {number: 9443, name: tls, protocol: TLS}]
  endpoints: [{address: 127.7.9.9, ports: {http: 18080}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns}
spec:
  hosts: [dns.example.com]
  resolution: DNS
  ports: [{number: 9080, name: http}]
  endpoints: [{address: localhost, ports: {http: 18081}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: none}
spec:
  hosts: [none.example.com]
  resolution: NONE
  ports: [{number: 9080, name: http}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sni}
spec:
  hosts: [api.example.com]
  tls:
  - match: [{port: 9443, sniHosts: [api.example.com]}]
    route: [{destination: {host: web, port: {number: 9080}}}]
"""

CLIENT = NodeId.parse("sidecar~127.7.0.1~client.default~default.svc.cluster.local")
SCOPED = NodeId.parse("sidecar~127.7.0.2~scoped.default~default.svc.cluster.local")


def _gen(text: str, node: NodeId):  # type: ignore[no-untyped-def]
    snap = build_snapshot(resources_from_yaml(text))
    return generate(snap, snap.proxy_view(node))


def _unpack(any_msg, cls):  # type: ignore[no-untyped-def]
    msg = cls()
    assert any_msg.Unpack(msg)
    return msg


def test_service_entry_resolution_picks_the_cluster_type() -> None:
    out = _gen(MESH, CLIENT)
    static = _unpack(out[CLUSTER]["outbound|9080||api.example.com"], cluster_pb2.Cluster)
    dns = _unpack(out[CLUSTER]["outbound|9080||dns.example.com"], cluster_pb2.Cluster)
    none = _unpack(out[CLUSTER]["outbound|9080||none.example.com"], cluster_pb2.Cluster)
    assert static.type == cluster_pb2.Cluster.EDS
    assert dns.type == cluster_pb2.Cluster.STRICT_DNS
    sa = dns.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (sa.address, sa.port_value) == ("localhost", 18081)
    assert none.type == cluster_pb2.Cluster.ORIGINAL_DST and none.lb_policy == cluster_pb2.Cluster.CLUSTER_PROVIDED
    # Only the STATIC entry has EDS; its endpoint listens on the mapped port.
    assert "outbound|9080||dns.example.com" not in out[ENDPOINT]
    assert "outbound|9080||none.example.com" not in out[ENDPOINT]
    assert "127.7.9.9" in str(out[ENDPOINT]["outbound|9080||api.example.com"].value)


def test_service_entry_hosts_are_virtual_hosts() -> None:
    rcfg = _unpack(_gen(MESH, CLIENT)[ROUTE]["9080"], route_pb2.RouteConfiguration)
    by_name = {vh.name: list(vh.domains) for vh in rcfg.virtual_hosts}
    assert by_name["api.example.com:9080"] == ["api.example.com", "api.example.com:9080"]
    assert "dns.example.com:9080" in by_name and "web.default.svc.cluster.local:9080" in by_name


ALIAS = MESH + """
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alias}
spec:
  hosts: [alias.example.org, "*.example.com"]
  http: [{route: [{destination: {host: web}}]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shares-address-1}
spec: {hosts: [one.example.net], addresses: [240.1.1.1], ports: [{number: 9080, name: http}], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shares-address-2}
spec: {hosts: [two.example.net], addresses: [240.1.1.1], ports: [{number: 9080, name: http}], resolution: DNS}
"""


def test_virtual_service_host_without_a_service_gets_its_own_virtual_host() -> None:
    rcfg = _unpack(_gen(ALIAS, CLIENT)[ROUTE]["9080"], route_pb2.RouteConfiguration)
    vhosts = {vh.name: vh for vh in rcfg.virtual_hosts}
    alias = vhosts["alias.example.org:9080"]
    assert list(alias.domains) == ["alias.example.org", "alias.example.org:9080"]
    assert alias.routes[0].route.cluster == "outbound|9080||web.default.svc.cluster.local"
    # `*.example.com` covers the dns.example.com ServiceEntry: it routes that host, no vhost of its own.
    assert "*.example.com:9080" not in vhosts
    assert vhosts["dns.example.com:9080"].routes[0].route.cluster == "outbound|9080||web.default.svc.cluster.local"
    # The scoped proxy imports only web: no alias host.
    scoped = _unpack(_gen(ALIAS, SCOPED)[ROUTE]["9080"], route_pb2.RouteConfiguration)
    assert "alias.example.org:9080" not in {vh.name for vh in scoped.virtual_hosts}


def test_a_domain_is_claimed_by_one_virtual_host_only() -> None:
    rcfg = _unpack(_gen(ALIAS, CLIENT)[ROUTE]["9080"], route_pb2.RouteConfiguration)
    domains = [d for vh in rcfg.virtual_hosts for d in vh.domains]
    assert len(domains) == len(set(domains))
    assert "240.1.1.1" in domains


def _filter(lis: listener_pb2.Listener, chain: int = 0):  # type: ignore[no-untyped-def]
    return lis.filter_chains[chain].filters[0]


def test_tcp_route_becomes_weighted_tcp_proxy_for_the_matching_source() -> None:
    lis = _unpack(_gen(MESH, CLIENT)[LISTENER]["127.7.1.1_9000"], listener_pb2.Listener)
    tp = _unpack(_filter(lis).typed_config, tcp_proxy_pb2.TcpProxy)
    # The first entry needs sourceLabels app=nobody, so the weighted entry applies.
    assert [(c.name, c.weight) for c in tp.weighted_clusters.clusters] == [
        ("outbound|9000|v1|echo.default.svc.cluster.local", 70),
        ("outbound|9000|v2|echo.default.svc.cluster.local", 30)]


def test_tcp_listener_without_virtual_service_goes_to_the_service_cluster() -> None:
    text = MESH.replace("name: echo}\nspec:\n  hosts: [echo]", "name: echo}\nspec:\n  hosts: [nothing]")
    lis = _unpack(_gen(text, CLIENT)[LISTENER]["127.7.1.1_9000"], listener_pb2.Listener)
    assert _unpack(_filter(lis).typed_config, tcp_proxy_pb2.TcpProxy).cluster == \
        "outbound|9000||echo.default.svc.cluster.local"


def test_tls_route_becomes_sni_filter_chains_with_tls_inspector() -> None:
    lis = _unpack(_gen(MESH, CLIENT)[LISTENER]["127.7.1.1_9443"], listener_pb2.Listener)
    assert [f.name for f in lis.listener_filters] == ["envoy.filters.listener.tls_inspector"]
    assert [list(c.filter_chain_match.server_names) for c in lis.filter_chains] == [["api.example.com"]]
    tp = _unpack(_filter(lis).typed_config, tcp_proxy_pb2.TcpProxy)
    assert tp.cluster == "outbound|9080||web.default.svc.cluster.local"


def test_sidecar_scoped_proxy_gets_only_imported_services() -> None:
    out = _gen(MESH, SCOPED)
    outbound = {n for n in out[CLUSTER] if n.startswith("outbound|")}
    assert outbound == {"outbound|9080||web.default.svc.cluster.local"}
    rcfg = _unpack(out[ROUTE]["9080"], route_pb2.RouteConfiguration)
    assert [vh.name for vh in rcfg.virtual_hosts] == ["web.default.svc.cluster.local:9080", "block_all"]
    assert SECRET not in out


CERT, KEY = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", b"key-bytes"
GATEWAY = MESH + f"""
---
apiVersion: v1
kind: Pod
metadata: {{name: gw-0, namespace: istio-system, labels: {{istio: ingressgateway}}}}
status: {{podIP: 127.7.5.1}}
---
apiVersion: v1
kind: Secret
metadata: {{name: web-cert, namespace: istio-system}}
type: kubernetes.io/tls
data: {{tls.crt: {base64.b64encode(CERT).decode()}, tls.key: {base64.b64encode(KEY).decode()}}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: web-gw, namespace: default}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 8080, name: http, protocol: HTTP}}
    hosts: [web.example.com]
  - port: {{number: 8080, name: http2, protocol: HTTP}}
    hosts: [secure.example.com]
    tls: {{httpsRedirect: true}}
  - port: {{number: 8443, name: https, protocol: HTTPS}}
    hosts: ["*.example.com"]
    tls: {{mode: SIMPLE, credentialName: web-cert}}
  - port: {{number: 8444, name: tls, protocol: TLS}}
    hosts: [api.example.com]
    tls: {{mode: PASSTHROUGH}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web-a, creationTimestamp: "2024-01-01T00:00:00Z"}}
spec:
  hosts: [web.example.com, secure.example.com]
  gateways: [web-gw]
  http: [{{match: [{{uri: {{prefix: /a}}}}], route: [{{destination: {{host: web}}}}]}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web-b, creationTimestamp: "2024-02-01T00:00:00Z"}}
spec:
  hosts: [web.example.com]
  gateways: [default/web-gw]
  http: [{{route: [{{destination: {{host: echo, port: {{number: 9000}}}}}}]}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: passthrough}}
spec:
  hosts: [api.example.com]
  gateways: [web-gw]
  tls:
  - match: [{{sniHosts: [api.example.com]}}]
    route: [{{destination: {{host: api.example.com, port: {{number: 9443}}}}}}]
"""
ROUTER = NodeId.parse("router~127.7.5.1~gw-0.istio-system~istio-system.svc.cluster.local")


def test_gateway_listeners_and_route_names_follow_istio() -> None:
    out = _gen(GATEWAY, ROUTER)
    assert set(out[LISTENER]) == {"0.0.0.0_8080", "0.0.0.0_8443", "0.0.0.0_8444"}
    assert set(out[ROUTE]) == {"http.8080", "https.8443.https.web-gw.default"}
    lis = _unpack(out[LISTENER]["0.0.0.0_8080"], listener_pb2.Listener)
    sa = lis.address.socket_address
    assert (sa.address, sa.port_value) == ("127.7.5.1", 8080)  # the gateway pod's IP on loopback
    hcm = _unpack(_filter(lis).typed_config, hcm_pb2.HttpConnectionManager)
    assert hcm.rds.route_config_name == "http.8080" and hcm.use_remote_address.value
    assert not any(n.startswith("inbound|") for n in out[CLUSTER])
    assert "outbound|9080||web.default.svc.cluster.local" in out[CLUSTER]


def test_gateway_http_routes_by_host_merge_virtual_services_and_redirect() -> None:
    rcfg = _unpack(_gen(GATEWAY, ROUTER)[ROUTE]["http.8080"], route_pb2.RouteConfiguration)
    vhosts = {vh.name: vh for vh in rcfg.virtual_hosts}
    web = vhosts["web.example.com:8080"]
    assert list(web.domains) == ["web.example.com", "web.example.com:8080"]
    # web-a (older) first, then web-b: Istio merges VirtualServices on gateways.
    assert [r.route.cluster for r in web.routes] == [
        "outbound|9080||web.default.svc.cluster.local", "outbound|9000||echo.default.svc.cluster.local"]
    assert vhosts["secure.example.com:8080"].require_tls == rc.VirtualHost.ALL
    assert web.require_tls == rc.VirtualHost.NONE


def test_gateway_https_terminates_with_sds_credential_served_to_routers() -> None:
    out = _gen(GATEWAY, ROUTER)
    lis = _unpack(out[LISTENER]["0.0.0.0_8443"], listener_pb2.Listener)
    chain = lis.filter_chains[0]
    assert list(chain.filter_chain_match.server_names) == ["*.example.com"]
    ctx = _unpack(chain.transport_socket.typed_config, tls_pb2.DownstreamTlsContext)
    sds = ctx.common_tls_context.tls_certificate_sds_secret_configs[0]
    assert sds.name == "kubernetes://web-cert" and sds.sds_config.HasField("ads")
    secret = _unpack(out[SECRET]["kubernetes://web-cert"], secret_pb2.Secret)
    assert secret.tls_certificate.certificate_chain.inline_bytes == CERT
    assert secret.tls_certificate.private_key.inline_bytes == KEY
    hcm = _unpack(_filter(lis).typed_config, hcm_pb2.HttpConnectionManager)
    assert hcm.rds.route_config_name == "https.8443.https.web-gw.default"


def test_gateway_passthrough_routes_by_sni() -> None:
    lis = _unpack(_gen(GATEWAY, ROUTER)[LISTENER]["0.0.0.0_8444"], listener_pb2.Listener)
    assert [list(c.filter_chain_match.server_names) for c in lis.filter_chains] == [["api.example.com"]]
    tp = _unpack(_filter(lis).typed_config, tcp_proxy_pb2.TcpProxy)
    assert tp.cluster == "outbound|9443||api.example.com"
    assert not lis.filter_chains[0].HasField("transport_socket")


def test_gateway_without_secret_gets_no_secret_and_sidecars_get_no_gateway_listeners() -> None:
    text = GATEWAY.replace("name: web-cert, namespace: istio-system", "name: other, namespace: istio-system")
    assert _gen(text, ROUTER)[SECRET] == {}
    assert not any(n.startswith("0.0.0.0_") for n in _gen(GATEWAY, CLIENT)[LISTENER])


def test_match_gateways_with_a_bare_name_applies_on_that_gateway_only() -> None:
    text = GATEWAY + """
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: both}
spec:
  hosts: [both.example.com, web]
  gateways: [web-gw, mesh]
  http:
  - match: [{gateways: [web-gw], uri: {prefix: /edge}}]
    route: [{destination: {host: echo, port: {number: 9000}}}]
  - match: [{gateways: [mesh]}]
    route: [{destination: {host: web}}]
"""
    gw = _unpack(_gen(text, ROUTER)[ROUTE]["https.8443.https.web-gw.default"], route_pb2.RouteConfiguration)
    both = next(vh for vh in gw.virtual_hosts if vh.name == "both.example.com:8443")
    assert [r.match.prefix for r in both.routes] == ["/edge"]
    side = _unpack(_gen(text, CLIENT)[ROUTE]["9080"], route_pb2.RouteConfiguration)
    web = next(vh for vh in side.virtual_hosts if vh.name == "web.default.svc.cluster.local:9080")
    assert [r.route.cluster for r in web.routes] == ["outbound|9080||web.default.svc.cluster.local"]


def test_server_bind_names_the_listener_and_suffixes_route_names() -> None:
    text = GATEWAY.replace("hosts: [\"*.example.com\"]\n    tls: {mode: SIMPLE",
                           "hosts: [\"*.example.com\"]\n    bind: 127.7.5.9\n    tls: {mode: SIMPLE")
    for host in ("web", "secure"):  # the two HTTP servers on 8080
        line = f"    hosts: [{host}.example.com]\n"
        text = text.replace(line, line + "    bind: 127.7.5.8\n")
    out = _gen(text, ROUTER)
    assert set(out[LISTENER]) == {"127.7.5.8_8080", "127.7.5.9_8443", "0.0.0.0_8444"}
    assert set(out[ROUTE]) == {"http.8080.127.7.5.8", "https.8443.https.web-gw.default.127.7.5.9"}
    sa = _unpack(out[LISTENER]["127.7.5.9_8443"], listener_pb2.Listener).address.socket_address
    assert (sa.address, sa.port_value) == ("127.7.5.9", 8443)
