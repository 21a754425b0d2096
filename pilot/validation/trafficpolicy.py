"""A DestinationRule's trafficPolicy (also per subset and per port): load balancing, connection
pool, outlier detection, client TLS, tunnel and PROXY protocol
(https://istio.io/latest/docs/reference/config/networking/destination-rule/#TrafficPolicy)."""

from __future__ import annotations

from pilot.model.durations import parse_duration
from pilot.validation.fields import check_duration, check_enum, check_percent, check_port, fqdn_error, is_ip
from pilot.validation.node import Node

LB_SIMPLE = ("UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST")
CLIENT_TLS_MODES = ("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")
H2_UPGRADE = ("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE")
HASH_KEYS = ("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName")
_POLICY_FIELDS = ("loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings", "tunnel",
                  "proxyProtocol", "retryBudget")
_PORT_POLICY_FIELDS = ("loadBalancer", "connectionPool", "outlierDetection", "tls")
_MAGLEV_MAX_TABLE = 5000011
# Envoy's RingHashLbConfig.minimum_ring_size limit (lte 8M):
# https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto#config-cluster-v3-cluster-ringhashlbconfig
_RING_MAX = 8_388_608


def check_traffic_policy(node: Node) -> None:
    if not node.present:
        return
    if isinstance(node.value, dict) and not node.keys_present(*_POLICY_FIELDS):
        node.error("traffic policy must have at least one field")
        return
    if node.has("tunnel") and node.has("proxyProtocol"):
        node.error("tunnel and proxyProtocol must not be set together")
    _check_policy_parts(node)
    for setting in node["portLevelSettings"].items():
        if not setting.has("port"):
            setting["port"].error("portTrafficPolicy must have valid port")
        else:
            check_port(setting["port"]["number"], required=True, what="port number")
        if not setting.keys_present(*_PORT_POLICY_FIELDS):
            setting.error("port traffic policy must have at least one field")
        _check_policy_parts(setting)
    _check_tunnel(node["tunnel"])
    check_enum(node["proxyProtocol"]["version"], ("V1", "V2"))
    _check_retry_budget(node["retryBudget"])


def _check_retry_budget(node: Node) -> None:
    """`percent` is a DoubleValue (a plain number in YAML) and becomes Envoy's budget_percent, 0..100."""
    percent = node["percent"].number()
    if percent is not None and not 0 <= percent <= 100:
        node["percent"].error(f"retry budget percent {percent:g} is not in range 0..100")
    check_duration(node["budgetInterval"])


def _check_policy_parts(node: Node) -> None:
    check_load_balancer(node["loadBalancer"])
    check_connection_pool(node["connectionPool"])
    _check_outlier_detection(node["outlierDetection"])
    check_client_tls(node["tls"])


def check_load_balancer(node: Node) -> None:
    if not node.present:
        return
    kinds = node.keys_present("simple", "consistentHash", "backendUtilization")
    if len(kinds) > 1:
        node.error("only one of simple, consistentHash or backendUtilization may be set, "
                   f"found {', '.join(kinds)}")
    check_enum(node["simple"], LB_SIMPLE)
    hashing = node["consistentHash"]
    if hashing.present:
        keys = hashing.keys_present(*HASH_KEYS)
        if len(keys) != 1:
            hashing.error(f"consistentHash must set exactly one of {', '.join(HASH_KEYS)}")
        cookie = hashing["httpCookie"]
        if cookie.present and not cookie["name"].text():
            cookie["name"].error("name required for HttpCookie")
        if cookie["ttl"].present:
            try:
                parse_duration(cookie["ttl"].value)
            except ValueError as problem:
                cookie["ttl"].error(str(problem))
        if hashing.has("ringHash") and hashing.has("maglev"):
            hashing.error("only one of ringHash or maglev can be specified")
        if hashing.has("minimumRingSize"):
            hashing["minimumRingSize"].warning("consistent hash MinimumRingSize is deprecated, use "
                                               "ConsistentHashLB's RingHash configuration instead")
            if hashing.has("ringHash") or hashing.has("maglev"):
                hashing.error("only one of MinimumRingSize or Maglev/Ringhash can be specified")
        _check_maglev(hashing["maglev"])
        for ring in (hashing["minimumRingSize"], hashing["ringHash"]["minimumRingSize"]):
            size = ring.integer()
            if size is not None and not 0 <= size <= _RING_MAX:
                ring.error(f"minimum ring size {size} is not in range 0..{_RING_MAX}")
    if node.has("localityLbSetting") and node.has("zoneAwareLbSetting"):
        node.error("only one of localityLbSetting and zoneAwareLbSetting can be set")
    _check_warmup(node["warmup"])
    # The CRD allows only durations of at least 1ms here, as for warmup.duration.
    check_duration(node["warmupDurationSecs"])


def _check_warmup(warmup: Node) -> None:
    """Slow start (https://istio.io/latest/docs/reference/config/networking/destination-rule/#WarmupConfiguration):
    the webhook's bounds, plus the CRD's `minimum: 0` on minimumPercent (it becomes Envoy's
    min_weight_percent, a Percent of 0..100)."""
    if not warmup.present:
        return
    if not warmup.has("duration"):
        warmup["duration"].error("duration is required")
    check_duration(warmup["duration"])
    minimum = warmup["minimumPercent"].number()
    if minimum is not None and minimum > 100:
        warmup["minimumPercent"].error("minimumPercent value should be less than or equal to 100")
    elif minimum is not None and minimum < 0:
        warmup["minimumPercent"].error("minimumPercent value should be greater than or equal to 0")
    aggression = warmup["aggression"].number()
    if aggression is not None and aggression <= 0:
        warmup["aggression"].error("aggression should be greater than 0")


def _check_maglev(node: Node) -> None:
    if not node.present:
        return
    size = node["tableSize"].integer()
    if not size:
        node["tableSize"].error("tableSize must be set for maglev")
    elif size >= _MAGLEV_MAX_TABLE:
        node["tableSize"].error(f"tableSize must be less than {_MAGLEV_MAX_TABLE} for maglev")
    elif not _is_prime(size):
        node["tableSize"].error("tableSize must be a prime number for maglev")


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    factor = 2
    while factor * factor <= n:
        if n % factor == 0:
            return False
        factor += 1
    return True


_NON_NEGATIVE_HTTP = (("http1MaxPendingRequests", "http1 max pending requests"),
                      ("http2MaxRequests", "http2 max requests"),
                      ("maxRequestsPerConnection", "max requests per connection"),
                      ("maxRetries", "max retries"), ("maxConcurrentStreams", "max concurrent streams"))


def check_connection_pool(node: Node) -> None:
    if not node.present:
        return
    http, tcp = node["http"], node["tcp"]
    if isinstance(node.value, dict) and not http.present and not tcp.present:
        node.error("connection pool must have at least one field")
    for field, what in _NON_NEGATIVE_HTTP:
        value = http[field].integer()
        if value is not None and value < 0:
            http[field].error(f"{what} must be non-negative")
    check_duration(http["idleTimeout"])
    if check_enum(http["h2UpgradePolicy"], H2_UPGRADE) == "UPGRADE" and http["useClientProtocol"].flag():
        http.error("use client protocol must not be true when H2UpgradePolicy is UPGRADE")
    keepalive = http["http2KeepAlive"]
    if keepalive.present:
        for field in ("interval", "timeout"):
            if not keepalive.has(field):
                keepalive[field].error(f"http2 keepalive {field} is required")
            check_duration(keepalive[field])
    connections = tcp["maxConnections"].integer()
    if connections is not None and connections < 0:
        tcp["maxConnections"].error("max connections must be non-negative")
    check_duration(tcp["connectTimeout"])
    check_duration(tcp["maxConnectionDuration"])
    if tcp["idleTimeout"].value not in (None, "0s", "0"):  # 0s disables the idle timeout
        check_duration(tcp["idleTimeout"])
    check_duration(tcp["tcpKeepalive"]["time"])
    check_duration(tcp["tcpKeepalive"]["interval"])


def _check_outlier_detection(node: Node) -> None:
    if not node.present:
        return
    check_duration(node["baseEjectionTime"])
    check_duration(node["interval"])
    if node.has("consecutiveErrors"):
        node["consecutiveErrors"].warning("outlier detection consecutive errors is deprecated, use "
                                          "consecutiveGatewayErrors or consecutive5xxErrors instead")
    for field in ("consecutive5xxErrors", "consecutiveGatewayErrors", "consecutiveLocalOriginFailures"):
        value = node[field].integer()
        if value is not None and value < 0:
            node[field].error(f"{field} must be non-negative")
    local_failures = node["consecutiveLocalOriginFailures"].integer() or 0
    if local_failures > 0 and not node["splitExternalLocalOriginErrors"].flag():
        node["consecutiveLocalOriginFailures"].error(
            "outlier detection consecutive local origin failures is specified, but split external local "
            "origin errors is set to false")
    check_percent(node["maxEjectionPercent"])
    check_percent(node["minHealthPercent"])


def check_client_tls(node: Node) -> None:
    if not node.present:
        return
    mode = check_enum(node["mode"], CLIENT_TLS_MODES)
    files = node.keys_present("clientCertificate", "privateKey", "caCertificates", "caCrl")
    if mode == "ISTIO_MUTUAL":
        # Istio's own workload certificates are used; anything else would be silently ignored.
        if node.has("credentialName"):
            node["credentialName"].error("ISTIO_MUTUAL TLS cannot have associated credentialName")
        for field in files:
            node[field].error(f"ISTIO_MUTUAL TLS cannot have associated {field}")
        return
    verifying = node.keys_present("caCertificates", "subjectAltNames")
    if mode == "SIMPLE":
        verifying += node.keys_present("credentialName")
    if node["insecureSkipVerify"].flag() and verifying:
        node.error("cannot specify CaCertificates or CredentialName or SubjectAltNames when "
                   "InsecureSkipVerify is set true")
    if mode in ("SIMPLE", "MUTUAL") and node.has("credentialName"):
        if files:
            node.error("cannot specify client certificates or CA certificate or CA CRL "
                       "If credentialName is set")
        return
    if mode == "MUTUAL":
        if not node.has("clientCertificate"):
            node["clientCertificate"].error("client certificate required for mutual tls")
        if not node.has("privateKey"):
            node["privateKey"].error("private key required for mutual tls")


def _check_tunnel(node: Node) -> None:
    if not node.present:
        return
    protocol = node["protocol"].text()
    if protocol and protocol not in ("CONNECT", "POST"):
        node["protocol"].error('tunnel protocol must be "CONNECT" or "POST"')
    host = node["targetHost"].text() or ""
    if not is_ip(host) and (problem := fqdn_error(host)):
        node["targetHost"].error(f"tunnel target host must be valid FQDN or IP address: {problem}")
    check_port(node["targetPort"], required=True, what="tunnel target port")
