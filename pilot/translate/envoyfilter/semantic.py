"""Checks Envoy makes beyond the proto rules, for the kinds of resources patches touch.

- HTTP filters: the terminal filter (the router) must be last and only last
  (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/http_filters).
- Route configurations: virtual host names and domains must be unique across the configuration.
- Listeners: filter chains must not share the same filter_chain_match, and a terminal network filter
  (HTTP connection manager, TCP proxy) must be the last of its chain.
- Local rate limits (checked against Envoy 1.40 in validate mode): token bucket fill intervals of at
  least 50 ms, no repeated descriptor, and a token bucket in every per-route configuration.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from google.protobuf import any_pb2
from google.protobuf.message import Message

from pilot.translate.envoyfilter.lists import unpack

ROUTER = "envoy.filters.http.router"
TERMINAL_NETWORK_TYPES = frozenset({
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
})
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def semantic_problems(msg: Message) -> list[str]:
    if isinstance(msg, listener_pb2.Listener):
        return list(_listener(msg))
    if isinstance(msg, route_pb2.RouteConfiguration):
        return list(_route_config(msg, msg.name))
    return []


def _listener(lis: listener_pb2.Listener) -> Iterator[str]:
    seen: set[bytes] = set()
    for chain in lis.filter_chains:
        key = chain.filter_chain_match.SerializeToString(deterministic=True)
        if key in seen:
            yield f"filter chain {chain.name or '(unnamed)'} repeats another chain's filter_chain_match"
        seen.add(key)
        for f in list(chain.filters)[:-1]:
            if f.typed_config.type_url in TERMINAL_NETWORK_TYPES:
                yield f"{f.name} is a terminal filter and must be the last of filter chain {chain.name}"
        for f in chain.filters:
            inner = unpack(f.typed_config) if f.HasField("typed_config") else None
            if isinstance(inner, hcm.HttpConnectionManager):
                yield from _http_filters(inner)
                if inner.HasField("route_config"):
                    yield from _route_config(inner.route_config, inner.route_config.name)


def _http_filters(m: hcm.HttpConnectionManager) -> Iterator[str]:
    for f in m.http_filters:
        yield from _local_rate_limit(f.typed_config, f"HTTP filter {f.name}", per_route=False)
    names = [f.name for f in m.http_filters]
    if not names:
        return
    last = m.http_filters[-1]
    if last.typed_config.type_url != ROUTER_TYPE and last.name != ROUTER:
        yield f"the last HTTP filter must be the router, not {last.name}"
    for f in m.http_filters[:-1]:
        if f.typed_config.type_url == ROUTER_TYPE:
            yield f"the router ({f.name}) must be the last HTTP filter"


def _route_config(rc: route_pb2.RouteConfiguration, name: str) -> Iterator[str]:
    vhosts: set[str] = set()
    domains: set[str] = set()
    for vh in rc.virtual_hosts:
        yield from _per_filter_configs(vh.typed_per_filter_config, f"virtual host {vh.name}")
        for r in vh.routes:
            yield from _per_filter_configs(r.typed_per_filter_config, f"route {r.name or '(unnamed)'} of {vh.name}")
        if vh.name in vhosts:
            yield f"route {name}: virtual host {vh.name} appears twice"
        vhosts.add(vh.name)
        for d in vh.domains:
            if d.lower() in domains:
                yield f"route {name}: domain {d} is in two virtual hosts"
            domains.add(d.lower())


def _per_filter_configs(configs: Mapping[str, any_pb2.Any], where: str) -> Iterator[str]:
    for name, cfg in configs.items():
        yield from _local_rate_limit(cfg, f"{where}, {name}", per_route=True)


MIN_FILL_NS = 50_000_000


def _local_rate_limit(cfg: any_pb2.Any, where: str, *, per_route: bool) -> Iterator[str]:
    lrl = unpack(cfg) if cfg.type_url.endswith(".LocalRateLimit") else None
    if not isinstance(lrl, local_rate_limit_pb2.LocalRateLimit):
        return
    if per_route and not lrl.HasField("token_bucket"):
        yield f"{where}: a per-route local rate limit needs a token_bucket"
    if lrl.HasField("token_bucket") and lrl.token_bucket.fill_interval.ToNanoseconds() < MIN_FILL_NS:
        yield f"{where}: token_bucket.fill_interval must be at least 50ms"
    seen: set[tuple[tuple[str, str], ...]] = set()
    for d in lrl.descriptors:
        entries = tuple((e.key, e.value) for e in d.entries)
        if entries in seen:
            yield f"{where}: descriptor {entries} appears twice"
        seen.add(entries)
        if d.token_bucket.fill_interval.ToNanoseconds() < MIN_FILL_NS:
            yield f"{where}: descriptor {entries} token_bucket.fill_interval must be at least 50ms"
