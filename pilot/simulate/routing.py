"""Route selection as Envoy's router does it: virtual host by domain, then the first matching route.

https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-virtualhost
(domain search order: exact, longest suffix wildcard, longest prefix wildcard, then `*`).
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2

from pilot.simulate.matchers import header_matches, query_parameter_matches, regex_full_match
from pilot.simulate.request import Request


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _domain_rank(domain: str, host: str) -> tuple[int, int] | None:
    """Higher is better: exact, then longest `*suffix`, then longest `prefix*`, then `*`."""
    if domain == host:
        return (3, 0)
    if domain == "*":
        return (0, 0)
    if len(host) < len(domain):  # a wildcard stands for at least one character
        return None
    if domain.startswith("*") and host.endswith(domain[1:]):
        return (2, len(domain))
    if domain.endswith("*") and host.startswith(domain[:-1]):
        return (1, len(domain))
    return None


def select_virtual_host(rcfg: route_pb2.RouteConfiguration, host: str,
                        ignore_port: bool = False) -> rc.VirtualHost | None:
    host = host.lower()
    if ignore_port or rcfg.ignore_port_in_host_matching:
        host = _strip_port(host)
    best: tuple[tuple[int, int], rc.VirtualHost] | None = None
    for vh in rcfg.virtual_hosts:
        for domain in vh.domains:
            rank = _domain_rank(domain.lower(), host)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, vh)
    return best[1] if best else None


def _path_matches(match: rc.RouteMatch, path: str) -> bool:
    sensitive = match.case_sensitive.value if match.HasField("case_sensitive") else True
    kind = match.WhichOneof("path_specifier")
    if kind == "safe_regex":
        return regex_full_match(match.safe_regex.regex, path)
    if kind is None:
        return False  # connect_matcher / path_match_policy: not HTTP/1 GET-style routing
    target = getattr(match, kind)
    value = path if sensitive else path.lower()
    target = target if sensitive else target.lower()
    if kind == "prefix":
        return value.startswith(target)
    if kind == "path":
        return value == target
    if kind == "path_separated_prefix":
        return value == target or value.startswith(target + "/")
    return False


METADATA_NOTE = ("route {route!r} matches on dynamic metadata ({filters}, e.g. JWT claims), which is not simulated: "
                 "the request carries none, so a claim match fails and an inverted one holds")


def _metadata_matches(match: rc.RouteMatch) -> bool:
    """Without simulated filters there is no dynamic metadata: Envoy's MetadataMatcher fails on a missing
    path, and `invert` turns that into a match (withoutHeaders on a claim)."""
    return all(m.invert for m in match.dynamic_metadata)


def route_matches(match: rc.RouteMatch, request: Request, headers: dict[str, str] | None = None) -> bool:
    if not _path_matches(match, request.path):
        return False
    if not _metadata_matches(match):
        return False
    headers = headers if headers is not None else request.header_map()
    if not all(header_matches(h, headers) for h in match.headers):
        return False
    params = request.query_params()
    if not all(query_parameter_matches(q, params) for q in match.query_parameters):
        return False
    if match.HasField("runtime_fraction"):
        pct = match.runtime_fraction.default_value
        if pct.numerator == 0:
            return False
    return True


def select_route(routes: Iterable[rc.Route], request: Request, notes: list[str] | None = None) -> rc.Route | None:
    """The first route that matches; `notes` hears about routes whose metadata matches were assumed."""
    headers = request.header_map()
    for r in routes:
        if r.match.dynamic_metadata and notes is not None and _path_matches(r.match, request.path):
            filters = ", ".join(sorted({m.filter for m in r.match.dynamic_metadata}))
            note = METADATA_NOTE.format(route=r.name or "(unnamed)", filters=filters)
            if note not in notes:
                notes.append(note)
        if route_matches(r.match, request, headers):
            return r
    return None
