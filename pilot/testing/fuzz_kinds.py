"""Well-formed-ish documents of every kind meshpilot serves, for property-based tests and bench/fuzz.py.

`KIND_TABLE` maps a kind to a skeleton: the few fields that make a resource of that kind do something
(hosts and routes of a VirtualService, servers of a Gateway), pointing at the fuzz mesh's services and
labels. The rest of the spec comes from the kind's CRD field schema (fuzz_schema), merged under the
skeleton. A kind in pilot.model.kinds without a skeleton is still generated from its schema alone, so
a new kind is covered as soon as it is served; give it a skeleton for a better share of accepted ones.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import strategies as st

from pilot.model.kinds import KINDS
from pilot.model.resource import CLUSTER_SCOPED
from pilot.testing import fuzz_values as v
from pilot.testing.fuzz_schema import spec_strategy

Doc = dict[str, Any]
Strategy = st.SearchStrategy
_opt = st.one_of  # readability: _opt(st.none(), x) is "x or nothing"


def _some(**fields: Strategy[Any]) -> Strategy[Doc]:
    """A dict with some of `fields` (each present or not), dropping None values."""
    return st.fixed_dictionaries({}, optional=fields).map(lambda d: {k: x for k, x in d.items() if x is not None})


def _weights(n: int) -> Strategy[list[int]]:
    """n weights, usually summing to 100 (Istio's rule), sometimes not."""
    cuts = st.lists(st.integers(0, 100), min_size=n - 1, max_size=n - 1).map(sorted)
    summed = cuts.map(lambda c: [b - a for a, b in zip([0, *c], [*c, 100], strict=True)])
    return st.one_of(summed, st.lists(st.integers(0, 100), min_size=n, max_size=n))


def _destination() -> Strategy[Doc]:
    return st.builds(lambda h, extra: {"host": h, **extra}, st.sampled_from(v.MESH_HOSTS + v.EXTERNAL_HOSTS[:2]),
                     _some(subset=st.sampled_from(v.SUBSETS), port=st.builds(lambda p: {"number": p}, v.port())))


def _route_to() -> Strategy[list[Doc]]:
    def weighted(dests: list[Doc]) -> Strategy[list[Doc]]:
        if len(dests) == 1:
            return st.just([{"destination": dests[0]}])
        return _weights(len(dests)).map(lambda ws: [{"destination": d, "weight": w} for d, w in zip(dests, ws,
                                                                                                        strict=True)])
    return st.lists(_destination(), min_size=1, max_size=3).flatmap(weighted)


def _string_match() -> Strategy[Doc]:
    return st.one_of(st.builds(lambda p: {"prefix": p}, v.path_value()), st.builds(lambda p: {"exact": p},
                     v.path_value()), st.builds(lambda r: {"regex": r}, v.regex()))


def _http_route() -> Strategy[Doc]:
    match = _some(uri=_string_match(), headers=st.dictionaries(st.sampled_from(("x-user", "end-user", ":authority")),
                                                               _string_match(), max_size=2),
                  method=st.builds(lambda m: {"exact": m}, st.sampled_from(("GET", "POST"))),
                  port=v.port(), ignoreUriCase=st.booleans())
    return st.builds(lambda route, extra: {"route": route, **extra}, _route_to(), _some(
        match=st.lists(match, max_size=2), timeout=v.duration(), name=st.sampled_from(("r1", "r2")),
        retries=_some(attempts=st.integers(0, 5), perTryTimeout=v.duration(), retryOn=st.just("5xx")),
        fault=st.builds(lambda d, p: {"delay": {"fixedDelay": d, "percentage": {"value": p}}},
                        v.duration(), st.floats(0, 100)),
        rewrite=st.builds(lambda u: {"uri": u}, v.path_value()),
        headers=st.builds(lambda k, x: {"request": {"set": {k: x}}}, st.sampled_from(("x-a", "x-b")), v.label_value()),
        mirror=st.builds(lambda h: {"host": h}, st.sampled_from(v.MESH_HOSTS))))


def _selector(key: str = "labels") -> Strategy[Doc]:
    return st.builds(lambda ls: {key: ls}, v.labels())


def _port_doc() -> Strategy[Doc]:
    return st.builds(lambda n, p, extra: {"number": n, "protocol": p, "name": f"{p.lower()}-{n}", **extra},
                     v.port(), st.sampled_from(("HTTP", "HTTPS", "GRPC", "TCP", "TLS", "HTTP2")),
                     _some(targetPort=v.port()))


def _virtual_service() -> Strategy[Doc]:
    return st.builds(lambda hosts, http, extra: {"hosts": hosts, "http": http, **extra},
                     st.lists(v.host(), min_size=1, max_size=2, unique=True), st.lists(_http_route(), min_size=1,
                                                                                       max_size=3),
                     _some(gateways=st.lists(st.sampled_from(("mesh", "istio-system/ingress")), max_size=2,
                                             unique=True)))


def _destination_rule() -> Strategy[Doc]:
    subset = st.builds(lambda n, ver: {"name": n, "labels": {"version": ver}}, st.sampled_from(v.SUBSETS),
                       st.sampled_from(v.SUBSETS))
    return st.builds(lambda h, subsets: {"host": h, "subsets": subsets}, st.sampled_from(v.MESH_HOSTS),
                     st.lists(subset, max_size=3, unique_by=lambda s: s["name"]))


def _gateway() -> Strategy[Doc]:
    tls = st.builds(lambda m, c: {"mode": m, "credentialName": c}, st.sampled_from(("SIMPLE", "PASSTHROUGH")),
                    st.sampled_from(("gw-cert", "other-cert")))
    server = st.builds(lambda port, hosts, extra: {"port": port, "hosts": hosts, **extra}, _port_doc(),
                       st.lists(v.host(), min_size=1, max_size=2, unique=True), _some(tls=tls))
    return st.builds(lambda servers: {"selector": {"istio": "ingressgateway"}, "servers": servers},
                     st.lists(server, min_size=1, max_size=2))


def _service_entry() -> Strategy[Doc]:
    return st.builds(lambda hosts, ports, loc, res: {"hosts": hosts, "ports": ports, "location": loc,
                                                     "resolution": res},
                     st.lists(st.sampled_from(v.EXTERNAL_HOSTS), min_size=1, max_size=2, unique=True),
                     st.lists(_port_doc(), min_size=1, max_size=2, unique_by=lambda p: p["number"]),
                     st.sampled_from(("MESH_EXTERNAL", "MESH_INTERNAL")), st.sampled_from(("DNS", "NONE", "STATIC")))


def _sidecar() -> Strategy[Doc]:
    egress = st.builds(lambda hosts: {"hosts": hosts}, st.lists(
        st.sampled_from(("./*", "istio-system/*", "*/*", "default/reviews.default.svc.cluster.local")),
        min_size=1, max_size=2, unique=True))
    return st.builds(lambda sel, eg: {"workloadSelector": sel, "egress": eg}, _selector(),
                     st.lists(egress, min_size=1, max_size=1))


def _authorization_policy() -> Strategy[Doc]:
    source = _some(principals=st.lists(st.sampled_from(("cluster.local/ns/default/sa/bookinfo-productpage", "*")),
                                       min_size=1, max_size=2), namespaces=st.lists(st.sampled_from(v.NAMESPACES),
                                                                                   min_size=1, max_size=2))
    operation = _some(methods=st.lists(st.sampled_from(("GET", "POST")), min_size=1, max_size=2),
                      paths=st.lists(st.sampled_from(("/api/*", "/x", "*/admin")), min_size=1, max_size=2),
                      ports=st.lists(st.sampled_from(("9080", "8080")), min_size=1, max_size=1))
    rule = _some(**{"from": st.lists(st.builds(lambda s: {"source": s}, source), min_size=1, max_size=1),
                    "to": st.lists(st.builds(lambda o: {"operation": o}, operation), min_size=1, max_size=1)})
    return st.builds(lambda sel, action, rules: {"selector": {"matchLabels": sel}, "action": action,
                                                 "rules": rules},
                     v.labels(1), st.sampled_from(("ALLOW", "DENY", "AUDIT")), st.lists(rule, max_size=2))


def _request_authentication() -> Strategy[Doc]:
    rule = st.builds(lambda iss, uri, extra: {"issuer": iss, "jwksUri": uri, **extra},
                     st.sampled_from(("https://issuer.example.com", "issuer@example.com")),
                     st.just("https://issuer.example.com/jwks.json"),
                     _some(audiences=st.lists(st.just("aud-1"), max_size=1), forwardOriginalToken=st.booleans(),
                           outputPayloadToHeader=st.just("x-jwt-payload")))
    return st.builds(lambda sel, rules: {"selector": {"matchLabels": sel}, "jwtRules": rules}, v.labels(1),
                     st.lists(rule, min_size=1, max_size=2, unique_by=lambda r: r["issuer"]))


def _peer_authentication() -> Strategy[Doc]:
    mode = st.sampled_from(("UNSET", "DISABLE", "PERMISSIVE", "STRICT"))
    return st.builds(lambda sel, m, extra: {"selector": {"matchLabels": sel}, "mtls": {"mode": m}, **extra},
                     v.labels(1), mode, _some(portLevelMtls=st.dictionaries(st.sampled_from(("9080", "8080")),
                                                                          st.builds(lambda m: {"mode": m}, mode),
                                                                          min_size=1, max_size=1)))


def _telemetry() -> Strategy[Doc]:
    providers = st.lists(st.builds(lambda n: {"name": n}, st.sampled_from(("zipkin", "otel", "envoy"))),
                         min_size=1, max_size=1)
    return _some(tracing=st.lists(st.builds(lambda p, s: {"providers": p, "randomSamplingPercentage": s}, providers,
                                            st.floats(0, 100)), min_size=1, max_size=1),
                 accessLogging=st.lists(st.builds(lambda p, e: {"providers": p, "filter": {"expression": e}},
                                                  providers, st.sampled_from(("response.code >= 400", "true"))),
                                        min_size=1, max_size=1),
                 selector=_selector("matchLabels"))


def _rate_limit_policy() -> Strategy[Doc]:
    rule = st.builds(lambda name, tokens, fill, extra: {"name": name, "limit": {"tokens": tokens,
                                                                                "fillInterval": fill}, **extra},
                     st.sampled_from(("r1", "r2")), st.integers(1, 100), st.sampled_from(("1s", "100ms", "1m")),
                     _some(match=st.builds(lambda p: {"path": {"prefix": p}}, v.path_value())))
    return st.builds(lambda sel, rules: {"workloadSelector": sel, "rules": rules}, _selector(),
                     st.lists(rule, min_size=1, max_size=2, unique_by=lambda r: r["name"]))


def _envoy_filter() -> Strategy[Doc]:
    patch = st.sampled_from((
        {"applyTo": "CLUSTER", "match": {"context": "SIDECAR_OUTBOUND"},
         "patch": {"operation": "MERGE", "value": {"connect_timeout": "3s"}}},
        {"applyTo": "LISTENER", "match": {"context": "SIDECAR_INBOUND"},
         "patch": {"operation": "MERGE", "value": {"per_connection_buffer_limit_bytes": 32768}}},
        {"applyTo": "HTTP_FILTER", "match": {"context": "SIDECAR_INBOUND", "listener": {"filterChain": {"filter": {
            "name": "envoy.filters.network.http_connection_manager"}}}},
         "patch": {"operation": "INSERT_BEFORE", "value": {"name": "envoy.filters.http.cors", "typed_config": {
             "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}}},
        {"applyTo": "HTTP_ROUTE", "match": {"context": "SIDECAR_OUTBOUND"},
         "patch": {"operation": "MERGE", "value": {"route": {"timeout": "7s"}}}},
    ))
    return st.builds(lambda sel, patches: {"workloadSelector": sel, "configPatches": patches}, _selector(),
                     st.lists(patch, min_size=1, max_size=2))


def _service() -> Strategy[Doc]:
    port = st.builds(lambda n, p, t: {"name": n, "port": p, "targetPort": t},
                     st.sampled_from(("http", "grpc-x", "tcp")), v.port(), v.port())
    return st.builds(lambda sel, ports: {"selector": sel, "ports": ports}, v.labels(1),
                     st.lists(port, min_size=1, max_size=2, unique_by=lambda p: p["port"]))


def _k8s_body(kind: str) -> Strategy[Doc]:
    """Kubernetes kinds whose validators read the document root, not just spec."""
    if kind == "Pod":
        return st.builds(lambda ip, ls: {"metadata": {"labels": ls}, "spec": {
            "serviceAccountName": "fuzz", "containers": [{"name": "app", "image": "none"}]}, "status": {"podIP": ip}},
            st.sampled_from(("127.61.0.50", "127.61.0.51", "10.1.2.3")), v.labels())
    if kind == "Secret":
        return st.builds(lambda t: {"type": t, "data": {"tls.crt": "Zm9v", "tls.key": "YmFy"}},
                         st.sampled_from(("kubernetes.io/tls", "Opaque")))
    if kind == "EndpointSlice":
        return st.builds(lambda svc, ip, p: {
            "metadata": {"labels": {"kubernetes.io/service-name": svc}}, "addressType": "IPv4",
            "endpoints": [{"addresses": [ip]}], "ports": [{"name": "http", "port": p}]},
            st.sampled_from(v.SERVICES), st.sampled_from(("127.61.0.60", "10.0.0.9")), v.port())
    return st.builds(lambda ls: {"metadata": {"labels": ls}}, v.labels())  # Namespace


SPEC_SKELETONS: dict[str, Callable[[], Strategy[Doc]]] = {
    "VirtualService": _virtual_service, "DestinationRule": _destination_rule, "Gateway": _gateway,
    "ServiceEntry": _service_entry, "Sidecar": _sidecar, "AuthorizationPolicy": _authorization_policy,
    "RequestAuthentication": _request_authentication, "PeerAuthentication": _peer_authentication,
    "Telemetry": _telemetry, "RateLimitPolicy": _rate_limit_policy, "EnvoyFilter": _envoy_filter,
    "Service": _service,
    "WorkloadEntry": lambda: st.builds(lambda a, ls: {"address": a, "labels": ls, "ports": {"http": 9080}},
                                       st.sampled_from(("127.61.0.70", "10.0.0.8")), v.labels()),
}
BODY_SKELETONS = ("Pod", "Secret", "EndpointSlice", "Namespace")
"""Kinds whose skeleton is the whole body (Kubernetes kinds with top-level fields)."""


def merge(under: Any, over: Any) -> Any:
    """`over` wins; nested dicts are merged."""
    if isinstance(under, dict) and isinstance(over, dict):
        return {**under, **{k: merge(under.get(k), x) for k, x in over.items()}}
    return over


@cache  # one strategy object per kind: hypothesis validates a new one on every draw
def document(kind: str) -> Strategy[Doc]:
    """A document of `kind`: skeleton (when it has one) over random schema fields, with metadata."""
    info = KINDS[kind]
    version = st.sampled_from(info.versions).map(lambda ver: f"{info.group}/{ver}" if info.group else ver)
    name = st.one_of(st.sampled_from(("fuzz", "fuzz-a", "reviews", "mesh")), v.dns_label)
    namespace = st.sampled_from(v.NAMESPACES)
    extra = spec_strategy(info.group, info.versions[0], kind, max_fields=2)
    if kind in SPEC_SKELETONS:
        spec = st.tuples(extra, SPEC_SKELETONS[kind]()).map(lambda p: merge(p[0], p[1]))
    else:
        spec = extra
    body = _k8s_body(kind) if kind in BODY_SKELETONS else st.just({})

    def build(api: str, n: str, ns: str, s: Any, b: Doc) -> Doc:
        meta = {"name": n} if kind in CLUSTER_SCOPED else {"name": n, "namespace": ns}
        doc: Doc = {"apiVersion": api, "kind": kind, "metadata": meta}
        if kind not in BODY_SKELETONS or s:
            doc["spec"] = s
        return merge(doc, b)

    return st.builds(build, version, name, namespace, spec, body)


def any_document(kinds: tuple[str, ...] | None = None) -> Strategy[Doc]:
    """A document of any served kind (every kind of pilot.model.kinds.KINDS by default)."""
    return st.one_of([document(k) for k in kinds or tuple(KINDS)])
