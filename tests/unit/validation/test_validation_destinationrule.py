# ruff: noqa: E501  (case tables read best one case per line)
"""DestinationRule validation: host, subsets and traffic policies."""

from __future__ import annotations

from typing import Any

import pytest


def dr(**extra: Any) -> dict[str, Any]:
    return {"host": "reviews", **extra}


def tp(**policy: Any) -> dict[str, Any]:
    return dr(trafficPolicy=policy)


T = "spec.trafficPolicy"
CASES: list[tuple[str, dict[str, Any], list[tuple[str, ...]]]] = [
    ("minimal", dr(), []),
    ("subsets ok", dr(subsets=[{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2"}]), []),
    ("no host", {"subsets": []}, [("spec.host", "host is required")]),
    ("bad host", dr(host="reviews..default"), [("spec.host", "label '' invalid")]),
    ("wildcard host", dr(host="*.example.com"), []),
    ("duplicate subsets", dr(subsets=[{"name": "v1"}, {"name": "v1"}]),
     [("spec.subsets[1].name", "duplicate subset names: v1")]),
    ("subset name missing", dr(subsets=[{"labels": {"a": "b"}}]), [("spec.subsets[0].name", "subset name is required")]),
    ("subset name invalid", dr(subsets=[{"name": "V1"}]), [("spec.subsets[0].name", "subset name is invalid: V1")]),
    ("subset bad label key", dr(subsets=[{"name": "v1", "labels": {"bad key": "x"}}]),
     [("spec.subsets[0].labels.bad key", "invalid tag key")]),
    ("subset policy checked", dr(subsets=[{"name": "v1", "trafficPolicy": {"loadBalancer": {"simple": "FASTEST"}}}]),
     [("spec.subsets[0].trafficPolicy.loadBalancer.simple", "unsupported value 'FASTEST'")]),
    ("empty policy", tp(), [(T, "traffic policy must have at least one field")]),
    ("lb simple ok", tp(loadBalancer={"simple": "LEAST_REQUEST"}), []),
    ("lb simple bad", tp(loadBalancer={"simple": "round_robin"}),
     [(f"{T}.loadBalancer.simple", "must be one of UNSPECIFIED, LEAST_CONN")]),
    ("lb simple and hash", tp(loadBalancer={"simple": "RANDOM", "consistentHash": {"useSourceIp": True}}),
     [(f"{T}.loadBalancer", "only one of simple, consistentHash")]),
    ("hash ok", tp(loadBalancer={"consistentHash": {"httpHeaderName": "x-user"}}), []),
    ("hash two keys", tp(loadBalancer={"consistentHash": {"httpHeaderName": "x", "useSourceIp": True}}),
     [(f"{T}.loadBalancer.consistentHash", "consistentHash must set exactly one of")]),
    ("hash no key", tp(loadBalancer={"consistentHash": {}}),
     [(f"{T}.loadBalancer.consistentHash", "consistentHash must set exactly one of")]),
    ("hash cookie no name", tp(loadBalancer={"consistentHash": {"httpCookie": {"ttl": "0s"}}}),
     [(f"{T}.loadBalancer.consistentHash.httpCookie.name", "name required for HttpCookie")]),
    ("maglev not prime", tp(loadBalancer={"consistentHash": {"useSourceIp": True, "maglev": {"tableSize": 1000}}}),
     [(f"{T}.loadBalancer.consistentHash.maglev.tableSize", "tableSize must be a prime number for maglev")]),
    ("maglev prime", tp(loadBalancer={"consistentHash": {"useSourceIp": True, "maglev": {"tableSize": 65537}}}), []),
    ("locality and zone", tp(loadBalancer={"localityLbSetting": {"enabled": True}, "zoneAwareLbSetting": {}}),
     [(f"{T}.loadBalancer", "only one of localityLbSetting and zoneAwareLbSetting can be set")]),
    ("conn pool ok", tp(connectionPool={"tcp": {"maxConnections": 100, "connectTimeout": "30ms"},
                                        "http": {"http1MaxPendingRequests": 10, "maxRequestsPerConnection": 1}}), []),
    ("conn pool empty", tp(connectionPool={}), [(f"{T}.connectionPool", "connection pool must have at least one field")]),
    ("conn pool negative", tp(connectionPool={"tcp": {"maxConnections": -1}}),
     [(f"{T}.connectionPool.tcp.maxConnections", "max connections must be non-negative")]),
    ("conn pool http negative", tp(connectionPool={"http": {"http2MaxRequests": -3}}),
     [(f"{T}.connectionPool.http.http2MaxRequests", "http2 max requests must be non-negative")]),
    ("conn pool timeout", tp(connectionPool={"tcp": {"connectTimeout": "soon"}}),
     [(f"{T}.connectionPool.tcp.connectTimeout", "invalid duration 'soon'")]),
    ("conn pool idle zero ok", tp(connectionPool={"tcp": {"idleTimeout": "0s"}}), []),
    ("conn pool upgrade", tp(connectionPool={"http": {"h2UpgradePolicy": "UPGRADE", "useClientProtocol": True}}),
     [(f"{T}.connectionPool.http", "use client protocol must not be true when H2UpgradePolicy is UPGRADE")]),
    ("outlier ok", tp(outlierDetection={"consecutive5xxErrors": 7, "interval": "5m", "baseEjectionTime": "15m",
                                        "maxEjectionPercent": 100}), []),
    ("outlier percent", tp(outlierDetection={"maxEjectionPercent": 101}),
     [(f"{T}.outlierDetection.maxEjectionPercent", "percentage 101 is not in range 0..100")]),
    ("outlier interval", tp(outlierDetection={"interval": "-1s"}),
     [(f"{T}.outlierDetection.interval", "must not be negative")]),
    ("outlier deprecated", tp(outlierDetection={"consecutiveErrors": 5}),
     [("W", f"{T}.outlierDetection.consecutiveErrors", "deprecated")]),
    ("outlier local origin", tp(outlierDetection={"consecutiveLocalOriginFailures": 3}),
     [(f"{T}.outlierDetection.consecutiveLocalOriginFailures", "split external local origin errors")]),
    ("tls istio mutual", tp(tls={"mode": "ISTIO_MUTUAL"}), []),
    ("tls mode bad", tp(tls={"mode": "STRICT"}), [(f"{T}.tls.mode", "unsupported value 'STRICT'")]),
    ("tls istio mutual credential", tp(tls={"mode": "ISTIO_MUTUAL", "credentialName": "cert"}),
     [(f"{T}.tls.credentialName", "ISTIO_MUTUAL TLS cannot have associated credentialName")]),
    ("tls mutual needs cert", tp(tls={"mode": "MUTUAL"}),
     [(f"{T}.tls.clientCertificate", "client certificate required for mutual tls"),
      (f"{T}.tls.privateKey", "private key required for mutual tls")]),
    ("tls mutual credential", tp(tls={"mode": "MUTUAL", "credentialName": "client-cert"}), []),
    ("tls credential and files", tp(tls={"mode": "SIMPLE", "credentialName": "c", "caCertificates": "/ca.pem"}),
     [(f"{T}.tls", "cannot specify client certificates or CA certificate or CA CRL If credentialName is set")]),
    ("tls skip verify", tp(tls={"mode": "SIMPLE", "insecureSkipVerify": True, "caCertificates": "/ca.pem"}),
     [(f"{T}.tls", "when InsecureSkipVerify is set true")]),
    ("port level ok", tp(portLevelSettings=[{"port": {"number": 443}, "tls": {"mode": "SIMPLE"}}]), []),
    ("port level no port", tp(portLevelSettings=[{"tls": {"mode": "SIMPLE"}}]),
     [(f"{T}.portLevelSettings[0].port", "portTrafficPolicy must have valid port")]),
    ("port level bad port", tp(portLevelSettings=[{"port": {"number": 0}, "tls": {"mode": "SIMPLE"}}]),
     [(f"{T}.portLevelSettings[0].port.number", "port number 0 must be in the range 1..65535")]),
    ("port level empty", tp(portLevelSettings=[{"port": {"number": 80}}]),
     [(f"{T}.portLevelSettings[0]", "port traffic policy must have at least one field")]),
    ("tunnel and proxy protocol", tp(tunnel={"targetHost": "a.com", "targetPort": 443}, proxyProtocol={"version": "V1"}),
     [(T, "tunnel and proxyProtocol must not be set together")]),
    ("tunnel bad", tp(tunnel={"protocol": "GET", "targetHost": "bad_host", "targetPort": 0}),
     [(f"{T}.tunnel.protocol", 'tunnel protocol must be "CONNECT" or "POST"'),
      (f"{T}.tunnel.targetHost", "tunnel target host must be valid FQDN or IP address"),
      (f"{T}.tunnel.targetPort", "port number 0")]),
    ("workload selector wildcard", dr(workloadSelector={"matchLabels": {"app": "*"}}),
     [("spec.workloadSelector.matchLabels.app", "wildcard is not supported in selector")]),
    ("exportTo bad", dr(exportTo=["Foo"]), [("spec.exportTo[0]", "invalid exportTo value 'Foo'")]),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_destination_rule(check, spec, expected):
    check("DestinationRule", spec, expected)
