"""VirtualService HTTPRoute actions -> Envoy: header operations, RedirectAction, DirectResponseAction,
rewrites and request mirroring. Field mapping: istio-reference.md §1.1; behaviour follows istiod's
pilot/pkg/networking/core/route/route.go.
https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from envoy.type.matcher.v3 import regex_pb2

# The filter names are re-exported: listeners.py imports them from here.
from pilot.translate.route_policies import CORS_FILTER, FAULT_FILTER, hundred, million

__all__ = ["CORS_FILTER", "FAULT_FILTER", "HeaderOps", "apply_rewrite", "direct_response", "header_ops",
           "headers_operations", "mirror_policies", "redirect_action"]

ClusterFor = Callable[[Mapping[str, Any]], str]


# ---- headers ------------------------------------------------------------------------------------

@dataclass
class HeaderOps:
    """One `Headers` block: what to add/remove on each side, and an authority to rewrite to."""

    request_add: list[base_pb2.HeaderValueOption] = field(default_factory=list)
    request_remove: list[str] = field(default_factory=list)
    response_add: list[base_pb2.HeaderValueOption] = field(default_factory=list)
    response_remove: list[str] = field(default_factory=list)
    authority: str = ""

    def apply_to(self, target: rc.Route | rc.WeightedCluster.ClusterWeight) -> None:
        target.request_headers_to_add.extend(self.request_add)
        target.request_headers_to_remove.extend(self.request_remove)
        target.response_headers_to_add.extend(self.response_add)
        target.response_headers_to_remove.extend(self.response_remove)


def _is_authority(key: str) -> bool:
    return key.lower() in (":authority", "host")


def _is_internal(key: str) -> bool:
    """Pseudo-headers and Host cannot be edited as headers; Istio turns them into a host rewrite."""
    return key.startswith(":") or key.lower() == "host"


def _values(ops: Mapping[str, Any], verb: str, append: bool) -> tuple[list[base_pb2.HeaderValueOption], str]:
    action = (base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD if append
              else base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD)
    out, authority = [], ""
    for key, value in sorted((ops.get(verb) or {}).items()):
        if _is_authority(str(key)):
            authority = str(value)
        if _is_internal(str(key)):
            continue
        out.append(base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=str(key), value=str(value)),
                                              append_action=action))
    return out, authority


def headers_operations(headers: Mapping[str, Any] | None) -> HeaderOps:
    req = (headers or {}).get("request") or {}
    resp = (headers or {}).get("response") or {}
    req_set, set_authority = _values(req, "set", append=False)
    req_add, add_authority = _values(req, "add", append=True)
    resp_set, _ = _values(resp, "set", append=False)
    resp_add, _ = _values(resp, "add", append=True)
    return HeaderOps(
        request_add=req_set + req_add,
        request_remove=[str(h) for h in req.get("remove") or [] if not _is_internal(str(h))],
        response_add=resp_set + resp_add,
        response_remove=[str(h) for h in resp.get("remove") or [] if not _is_internal(str(h))],
        authority=set_authority or add_authority,
    )


def header_ops(headers: Mapping[str, Any] | None, side: str
               ) -> tuple[list[base_pb2.HeaderValueOption], list[str]]:
    """One side ("request" or "response") of a Headers block, as (to add, to remove)."""
    ops = headers_operations(headers)
    if side == "request":
        return ops.request_add, ops.request_remove
    return ops.response_add, ops.response_remove


# ---- redirect and direct response ---------------------------------------------------------------

_REDIRECT_CODES = {0: rc.RedirectAction.MOVED_PERMANENTLY, 301: rc.RedirectAction.MOVED_PERMANENTLY,
                   302: rc.RedirectAction.FOUND, 303: rc.RedirectAction.SEE_OTHER,
                   307: rc.RedirectAction.TEMPORARY_REDIRECT, 308: rc.RedirectAction.PERMANENT_REDIRECT}


def redirect_action(r: Mapping[str, Any], listener_port: int = 0, is_tls: bool = False) -> rc.RedirectAction:
    # Validation rejects other codes; translating them to 301 keeps Envoy from rejecting the route.
    ra = rc.RedirectAction(response_code=_REDIRECT_CODES.get(int(r.get("redirectCode") or 0),
                                                             rc.RedirectAction.MOVED_PERMANENTLY))
    if r.get("authority"):
        ra.host_redirect = str(r["authority"])
    if r.get("prefixRewrite"):
        ra.prefix_rewrite = str(r["prefixRewrite"])
    elif r.get("uri"):
        ra.path_redirect = str(r["uri"])
    if r.get("scheme"):
        ra.scheme_redirect = str(r["scheme"])
    if r.get("port") or r.get("derivePort"):
        if r.get("port"):
            ra.port_redirect = int(r["port"])
        elif r.get("derivePort") == "FROM_REQUEST_PORT":
            # Envoy cannot copy the request's port, but routes are built per listener port, so that
            # port is the request's. FROM_PROTOCOL_DEFAULT is Envoy's own behaviour (no port).
            ra.port_redirect = listener_port
        scheme = str(r.get("scheme") or ("https" if is_tls else "http"))
        if (scheme, ra.port_redirect) in (("http", 80), ("https", 443)):
            ra.port_redirect = 0  # no explicit default port in Location
    return ra


# Istio accepts direct response bodies up to 1 MB and raises the route table's limit to match; Envoy's
# default is 4 KB and it refuses the whole table over it. Raised only when needed, so other route tables
# stay byte-identical. https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route.proto
ENVOY_DEFAULT_BODY_LIMIT = 4096
MAX_DIRECT_RESPONSE_BODY = 1024 * 1024


def allow_large_bodies(rcfg: route_pb2.RouteConfiguration) -> None:
    """Raise `max_direct_response_body_size_bytes` when a route of `rcfg` answers with a large body."""
    largest = max((len(r.direct_response.body.inline_string) or len(r.direct_response.body.inline_bytes)
                   for vh in rcfg.virtual_hosts for r in vh.routes), default=0)
    if largest > ENVOY_DEFAULT_BODY_LIMIT:
        rcfg.max_direct_response_body_size_bytes.value = MAX_DIRECT_RESPONSE_BODY


def direct_response(d: Mapping[str, Any]) -> rc.DirectResponseAction:
    dr = rc.DirectResponseAction(status=int(d.get("status", 200)))
    body = d.get("body") or {}
    if "string" in body:
        dr.body.inline_string = str(body["string"])
    elif "bytes" in body:
        dr.body.inline_bytes = base64.b64decode(str(body["bytes"]))
    return dr


# ---- rewrite and mirroring ----------------------------------------------------------------------

def apply_rewrite(action: rc.RouteAction, rewrite: Mapping[str, Any] | None) -> None:
    """`uriRegexRewrite` wins over `uri`; the authority rewrite is applied by the caller (it also
    comes from `headers.request.set.host`)."""
    if not rewrite:
        return
    rr = rewrite.get("uriRegexRewrite")
    if rr:
        action.regex_rewrite.pattern.CopyFrom(regex_pb2.RegexMatcher(regex=str(rr.get("match", ""))))
        action.regex_rewrite.substitution = str(rr.get("rewrite", ""))
    elif rewrite.get("uri"):
        action.prefix_rewrite = str(rewrite["uri"])


def _mirror_fraction(pct: Mapping[str, Any] | None, legacy: Any = None) -> Any:
    """None when the mirror is switched off by an explicit 0 %; 100 % when nothing is said."""
    if pct is not None:
        value = float(pct.get("value") or 0)
        return million(value) if value > 0 else None
    if legacy is not None:
        return hundred(int(legacy)) if int(legacy) > 0 else None
    return hundred(100)


def mirror_policies(http: Mapping[str, Any], cluster_for: ClusterFor) -> list[rc.RouteAction.RequestMirrorPolicy]:
    mirrors: list[tuple[Mapping[str, Any], Any]] = []
    if http.get("mirror"):
        mirrors.append((http["mirror"], _mirror_fraction(http.get("mirrorPercentage"), http.get("mirrorPercent"))))
    for m in http.get("mirrors") or []:
        if m.get("destination"):
            mirrors.append((m["destination"], _mirror_fraction(m.get("percentage"))))
    out = []
    for dest, fraction in mirrors:
        if fraction is None:
            continue
        mp = rc.RouteAction.RequestMirrorPolicy(cluster=cluster_for(dest))
        mp.runtime_fraction.default_value.CopyFrom(fraction)
        mp.trace_sampled.value = False
        out.append(mp)
    return out
