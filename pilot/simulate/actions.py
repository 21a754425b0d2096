"""A matched route's action: clusters with probabilities, redirect/direct response status, and a
summary of timeout, retries, fault and mirror settings.
"""

from __future__ import annotations

from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.type.v3 import percent_pb2

from pilot.simulate.result import ClusterChoice

FAULT_FILTER = "envoy.filters.http.fault"
# RedirectAction.RedirectResponseCode enum -> HTTP status
_REDIRECT_STATUS = {0: 301, 1: 302, 2: 303, 3: 307, 4: 308}
_DENOMINATORS = {percent_pb2.FractionalPercent.HUNDRED: 100, percent_pb2.FractionalPercent.TEN_THOUSAND: 10_000,
                 percent_pb2.FractionalPercent.MILLION: 1_000_000}


def percent(fp: percent_pb2.FractionalPercent) -> float:
    return 100.0 * fp.numerator / _DENOMINATORS.get(fp.denominator, 100)


def route_clusters(action: rc.RouteAction) -> list[ClusterChoice]:
    if action.WhichOneof("cluster_specifier") == "cluster":
        return [ClusterChoice(action.cluster, 100, 1.0)]
    if action.WhichOneof("cluster_specifier") == "weighted_clusters":
        weighted = [(c.name, c.weight.value) for c in action.weighted_clusters.clusters]
        total = sum(w for _, w in weighted)
        return [ClusterChoice(n, w, (w / total) if total else 0.0) for n, w in weighted if w > 0]
    return []


def redirect_status(redirect: rc.RedirectAction) -> int:
    return _REDIRECT_STATUS.get(redirect.response_code, 301)


def redirect_summary(redirect: rc.RedirectAction) -> dict[str, Any]:
    out: dict[str, Any] = {"status": redirect_status(redirect)}
    for name in ("scheme_redirect", "host_redirect", "port_redirect", "path_redirect", "prefix_rewrite"):
        value = getattr(redirect, name)
        if value:
            out[name.replace("_redirect", "")] = value
    if redirect.strip_query:
        out["strip_query"] = True
    return out


def fault_of(route: rc.Route) -> fault_pb2.HTTPFault | None:
    packed = route.typed_per_filter_config.get(FAULT_FILTER)
    if packed is None:
        return None
    fault = fault_pb2.HTTPFault()
    return fault if packed.Unpack(fault) else None


def fault_summary(fault: fault_pb2.HTTPFault) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if fault.HasField("abort"):
        out["abort"] = {"status": fault.abort.http_status or None, "grpc_status": fault.abort.grpc_status or None,
                        "percent": percent(fault.abort.percentage)}
    if fault.HasField("delay"):
        out["delay"] = {"fixed": fault.delay.fixed_delay.ToJsonString(),
                        "percent": percent(fault.delay.percentage)}
    return out


def action_summary(route: rc.Route) -> dict[str, Any]:
    """Timeout, retries, mirrors, rewrites and fault of a forwarding route."""
    a = route.route
    out: dict[str, Any] = {}
    if a.HasField("timeout"):
        out["timeout"] = a.timeout.ToJsonString() if a.timeout.ToNanoseconds() else "disabled"
    if a.HasField("retry_policy"):
        rp = a.retry_policy
        out["retries"] = {"attempts": rp.num_retries.value, "retry_on": rp.retry_on}
        if rp.HasField("per_try_timeout"):
            out["retries"]["per_try_timeout"] = rp.per_try_timeout.ToJsonString()
        if rp.retriable_status_codes:
            out["retries"]["status_codes"] = list(rp.retriable_status_codes)
    if a.request_mirror_policies:
        out["mirror"] = [{"cluster": m.cluster, "percent": percent(m.runtime_fraction.default_value)
                          if m.HasField("runtime_fraction") else 100.0} for m in a.request_mirror_policies]
    if a.prefix_rewrite:
        out["prefix_rewrite"] = a.prefix_rewrite
    if a.HasField("host_rewrite_literal") or a.host_rewrite_literal:
        out["host_rewrite"] = a.host_rewrite_literal
    if a.hash_policy:
        out["hash_policy"] = len(a.hash_policy)
    fault = fault_of(route)
    if fault is not None and (fs := fault_summary(fault)):
        out["fault"] = fs
    return out
