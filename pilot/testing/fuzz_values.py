"""Plausible leaf values for property-based config generation, chosen by field name.

`value_for(path, type)` picks a strategy from `LEAF_TABLE` (first pattern matching the end of the field
path wins), so a `hosts` item is a host name, a `timeout` a duration and `weight` a small number. The
values are mostly valid: what makes a resource invalid is left to the mutations (fuzz_mutations.py).
Enum values are Istio's, from the API reference (https://istio.io/latest/docs/reference/config/).
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

Strategy = st.SearchStrategy

# The fuzz mesh (fuzz_pipeline.FUZZ_MESH): services, workloads and namespaces config can point at.
SERVICES = ("productpage", "reviews", "ratings")
NAMESPACES = ("default", "istio-system", "other")
MESH_HOSTS = tuple(f"{s}.default.svc.cluster.local" for s in SERVICES) + SERVICES
EXTERNAL_HOSTS = ("httpbin.org", "api.example.com", "*.example.com", "example.com", "db.internal")
SUBSETS = ("v1", "v2", "v3")
LABELS = {"app": (*SERVICES, "istio-ingressgateway"), "version": SUBSETS, "istio": ("ingressgateway",)}

_LOWER = "abcdefghijklmnopqrstuvwxyz"
# Plain text strategies, not from_regex: this module's values are drawn ~50 times per document.
dns_label = st.builds(lambda a, b: a + b, st.sampled_from(_LOWER), st.text(_LOWER + "0123456789", max_size=8))


def dns_name() -> Strategy[str]:
    return st.lists(dns_label, min_size=1, max_size=3).map(".".join)


def host() -> Strategy[str]:
    return st.one_of(st.sampled_from(MESH_HOSTS + EXTERNAL_HOSTS), st.just("*"),
                     dns_name(), dns_name().map(lambda n: f"*.{n}"))


def duration() -> Strategy[str]:
    units = st.sampled_from(("ms", "s", "m", "h"))
    return st.one_of(st.builds(lambda n, u: f"{n}{u}", st.integers(1, 600), units),
                     st.sampled_from(("0.5s", "1.5s", "100ms", "0.001s", "10s", "1h", "0s")))


def regex() -> Strategy[str]:
    return st.sampled_from(("^/api/.*", ".*", "[a-z]+", "/v[0-9]+/items", "^(GET|POST)$", "foo|bar",
                            "(?i)chrome", r"\d{3}", "a{2,5}"))


def path_value() -> Strategy[str]:
    return st.one_of(st.sampled_from(("/", "/api", "/api/v1", "/productpage", "/static/")),
                     st.text(_LOWER + "0123456789/_-", max_size=12).map(lambda p: "/" + p))


def port() -> Strategy[int]:
    return st.one_of(st.sampled_from((9080, 80, 443, 8080, 15443, 3306)), st.integers(1, 65535))


def label_value() -> Strategy[str]:
    return st.one_of(st.sampled_from(SERVICES + SUBSETS), dns_label)


def labels(max_size: int = 2) -> Strategy[dict[str, str]]:
    known = st.sampled_from(sorted(LABELS)).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(LABELS[k])))
    return st.lists(st.one_of(known, st.tuples(dns_label, label_value())), max_size=max_size).map(dict)


def _enum(*values: str) -> Strategy[str]:
    return st.sampled_from(values)


_TLS_MODES = _enum("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")
_SERVER_TLS = _enum("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL")
_PROTOCOLS = _enum("HTTP", "HTTPS", "HTTP2", "GRPC", "TCP", "TLS", "MONGO", "REDIS", "MYSQL", "GRPC-WEB")
_text = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=8)

# (pattern on the dotted path without list indices, strategy). First match wins; patterns are anchored
# at the end of the path, so "tls.mode" beats "mode".
LEAF_TABLE: tuple[tuple[str, Strategy[object]], ...] = (
    (r"(^|\.)(hosts|host|targetHost|authority\.exact|sni|subjectAltNames|hostname)$", host()),
    (r"gateways$", _enum("mesh", "istio-system/ingress", "ingress", "default/gw")),
    (r"(^|\.)(subset|subsets)$", st.sampled_from(SUBSETS)),
    (r"subsets\.name$", st.sampled_from(SUBSETS)),
    (r"(regex|safeRegex)$", regex()),
    (r"(uri|path|paths|prefix|exact|uriRegexRewrite\.rewrite|rewrite\.uri)$", path_value()),
    (r"(?i)(timeout|interval|ttl|time|duration|period|delay|baseEjectionTime|fillInterval|"
     r"maxConnectionDuration|budgetInterval|warmupDurationSecs)$", duration()),
    (r"weight$", st.integers(0, 100)),
    (r"(?i)(percent|percentage|value|randomSamplingPercentage|maxEjectionPercent|minHealthPercent)$",
     st.one_of(st.integers(0, 100), st.floats(0, 100, allow_nan=False))),
    (r"(?i)(number|port|ports|targetPort|containerPort|portNumber|nodePort|targetPort)$", port()),
    (r"tls\.mode$", st.one_of(_TLS_MODES, _SERVER_TLS)),
    (r"mtls\.mode$|portLevelMtls\.[^.]+\.mode$", _enum("UNSET", "DISABLE", "PERMISSIVE", "STRICT")),
    (r"(^|\.)mode$", _enum("CLIENT", "SERVER", "CLIENT_AND_SERVER", "REGISTRY_ONLY", "ALLOW_ANY")),
    (r"(?i)protocol$", _PROTOCOLS),
    (r"(^|\.)name$", st.one_of(st.sampled_from((*SUBSETS, "http", "grpc", "tcp-db", "https-443")), dns_label)),
    (r"simple$", _enum("ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH", "LEAST_CONN", "UNSPECIFIED")),
    (r"^action$", _enum("ALLOW", "DENY", "AUDIT", "CUSTOM")),
    (r"^location$", _enum("MESH_EXTERNAL", "MESH_INTERNAL")),
    (r"^resolution$", _enum("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN")),
    (r"applyTo$", _enum("LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER", "ROUTE_CONFIGURATION",
                        "VIRTUAL_HOST", "HTTP_ROUTE", "CLUSTER")),
    (r"context$", _enum("ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY")),
    (r"operation$", _enum("MERGE", "ADD", "REMOVE", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE")),
    (r"captureMode$", _enum("DEFAULT", "IPTABLES", "NONE")),
    (r"(address|addresses|bind|ipBlocks|notIpBlocks|remoteIpBlocks|endpoints\.address|podIP|clusterIP)$",
     st.sampled_from(("127.0.0.1", "10.0.0.1", "10.0.0.0/8", "192.168.1.7", "::1", "2001:db8::/32"))),
    (r"defaultEndpoint$", _enum("127.0.0.1:8080", "0.0.0.0:8080", "unix:///var/run/app.sock")),
    (r"(namespaces|notNamespaces|exportTo|namespace)$", st.one_of(st.sampled_from(NAMESPACES), _enum(".", "*"))),
    (r"(principals|notPrincipals|requestPrincipals)$",
     _enum("cluster.local/ns/default/sa/bookinfo-productpage", "*", "*/ns/other/*", "issuer.example.com/subject")),
    (r"(methods|method)$", _enum("GET", "POST", "PUT", "DELETE", "HEAD")),
    (r"(issuer|audiences)$", _enum("https://issuer.example.com", "issuer@example.com", "aud-1")),
    (r"jwksUri$", _enum("https://issuer.example.com/jwks.json", "http://jwks.default.svc.cluster.local/keys")),
    (r"conditions\.key$", _enum("request.headers[x-user]", "source.ip", "source.namespace", "request.auth.claims[iss]",
                                "destination.port", "connection.sni", "source.principal")),
    (r"(values|notValues)$", _text),
    (r"(labels|matchLabels|selector)\.[^.]+$", label_value()),
    (r"(providers\.name|provider\.name)$", _enum("zipkin", "otel", "envoy", "envoy-json")),
    (r"expression$", _enum("response.code >= 400", "request.method == 'GET'", "true")),
    (r"metric$", _enum("ALL_METRICS", "REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE")),
    (r"(tokens|burst|maxConnections|http1MaxPendingRequests|http2MaxRequests|maxRetries|attempts|"
     r"consecutive5xxErrors|consecutiveGatewayErrors|maxRequestsPerConnection|priority|code|status)$",
     st.one_of(st.integers(0, 1000), st.sampled_from((200, 404, 429, 503)))),
    (r"(retryOn)$", _enum("5xx", "gateway-error,connect-failure", "reset", "retriable-4xx")),
)
_COMPILED = tuple((re.compile(p), s) for p, s in LEAF_TABLE)

_BY_TYPE: dict[str, Strategy[object]] = {
    "string": _text,
    "integer": st.integers(0, 100),
    "number": st.floats(0, 100, allow_nan=False),
    "boolean": st.booleans(),
    "int-or-string": st.one_of(port(), st.sampled_from(("http", "9080"))),
    "any": st.one_of(st.none(), st.booleans(), st.integers(0, 9), _text),
}


def _coerce(value: object, kind: str) -> object:
    """A table value in the schema's type (`ports` is a list of strings in an AuthorizationPolicy)."""
    if kind == "string" and isinstance(value, int | float):
        return str(value)
    if kind == "integer" and isinstance(value, float):
        return int(value)
    if kind == "integer" and isinstance(value, str):
        return int(value) if value.isdigit() else len(value)
    return value


def value_for(path: str, kind: str) -> Strategy[object]:
    """A leaf value for the field at `path` (indices dropped) of scalar type `kind`."""
    if kind != "boolean":
        for pattern, strategy in _COMPILED:
            if pattern.search(path):
                return strategy if kind in ("any", "int-or-string") else strategy.map(lambda v: _coerce(v, kind))
    return _BY_TYPE.get(kind, _BY_TYPE["any"])
