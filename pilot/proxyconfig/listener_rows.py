"""Listener and route rows as `istioctl proxy-config listener|route` summarise them.

A listener gives one row per filter chain: what the chain matches (its FilterChainMatch) and where it
sends traffic (an RDS route name, an inline route table, or a TCP proxy cluster).
https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener_components.proto
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pilot.proxyconfig.dump import istio_config_ref

HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"


def listener_rows(lis: Mapping[str, Any]) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    sa = (lis.get("address") or {}).get("socketAddress") or {}
    addresses = [str(sa.get("address", ""))] + [
        str(((a.get("address") or {}).get("socketAddress") or {}).get("address", ""))
        for a in lis.get("additionalAddresses") or []]
    address, port = ",".join(a for a in addresses if a), str(sa.get("portValue", ""))
    chains = list(lis.get("filterChains") or [])
    if "defaultFilterChain" in lis:
        chains.append({**lis["defaultFilterChain"], "filterChainMatch": {}})
    if not chains:
        chains = [{}]
    keys = {"address": addresses[0], "port": port}
    return [((address, port, chain_match(c.get("filterChainMatch") or {}), chain_destination(c)), keys)
            for c in chains]


def chain_match(m: Mapping[str, Any]) -> str:
    parts = []
    if m.get("destinationPort"):
        parts.append(f"Port: {m['destinationPort']}")
    if m.get("prefixRanges"):
        parts.append("Addr: " + ",".join(f"{r.get('addressPrefix', '')}/{r.get('prefixLen', 0)}"
                                         for r in m["prefixRanges"]))
    if m.get("serverNames"):
        parts.append("SNI: " + ",".join(m["serverNames"]))
    if m.get("transportProtocol"):
        parts.append(f"Trans: {m['transportProtocol']}")
    if m.get("applicationProtocols"):
        parts.append("App: " + ",".join(m["applicationProtocols"]))
    return "; ".join(parts) or "ALL"


def chain_destination(chain: Mapping[str, Any]) -> str:
    for f in chain.get("filters") or []:
        cfg = f.get("typedConfig") or {}
        if f.get("name") == HCM:
            if "rds" in cfg:
                return f"Route: {cfg['rds'].get('routeConfigName', '')}"
            table = cfg.get("routeConfig") or {}
            matches = [route_match(r.get("match") or {}) for vh in table.get("virtualHosts") or []
                       for r in vh.get("routes") or []]
            return "Inline Route: " + (";".join(dict.fromkeys(matches)) or "-")
        if f.get("name") == TCP_PROXY:
            if "cluster" in cfg:
                return f"Cluster: {cfg['cluster']}"
            weighted = (cfg.get("weightedClusters") or {}).get("clusters") or []
            return "Clusters: " + ",".join(str(c.get("name", "")) for c in weighted)
    return "Non-HTTP/Non-TCP"


def route_match(m: Mapping[str, Any]) -> str:
    """Path part of a RouteMatch the way istioctl writes it: prefix `/a` is `/a*`, exact `/a` is `/a`."""
    if "prefix" in m:
        return f"{m['prefix']}*"
    if "path" in m:
        return str(m["path"])
    if "pathSeparatedPrefix" in m:
        return f"{m['pathSeparatedPrefix']}/*"
    if "safeRegex" in m:
        return str(m["safeRegex"].get("regex", ""))
    return "-"


def route_rows(rc: Mapping[str, Any], virtual_services: Callable[[str], str]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for vh in rc.get("virtualHosts") or []:
        domains = describe_domains([str(d) for d in vh.get("domains") or []])
        host = str(vh.get("name", "")).rsplit(":", 1)[0]
        for r in vh.get("routes") or [{}]:
            vs = istio_config_ref(r) or virtual_services(host) or "-"
            rows.append((str(rc.get("name", "")), str(vh.get("name", "")), domains,
                         route_match(r.get("match") or {}), vs))
    return rows


def describe_domains(domains: list[str]) -> str:
    """The port-less domains, shortest first, two of them and a count of the rest (the `:port` twins
    add nothing to read)."""
    plain = sorted({d for d in domains if ":" not in d or d.startswith("[")}, key=lambda d: (len(d), d))
    plain = plain or domains
    if len(plain) <= 2:
        return ", ".join(plain)
    return f"{plain[0]}, {plain[1]} + {len(plain) - 2} more..."
