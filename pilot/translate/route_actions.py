"""VirtualService HTTPRoute actions -> Envoy RouteAction / RedirectAction / DirectResponseAction and
per-route filter config (fault, CORS). Field mapping: istio-reference.md §1.1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.common.fault.v3 import fault_pb2 as common_fault
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.extensions.retry.host.previous_hosts.v3 import previous_hosts_pb2
from envoy.type.matcher.v3 import regex_pb2
from envoy.type.v3 import percent_pb2

from pilot.model.durations import parse_duration
from pilot.translate.pb import duration, pack
from pilot.translate.route_match import string_matcher

FAULT_FILTER = "envoy.filters.http.fault"
CORS_FILTER = "envoy.filters.http.cors"
# Istio's mesh-wide default retry policy (meshConfig.defaultHttpRetryPolicy unset).
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
DEFAULT_RETRIES = 2

ClusterFor = Callable[[Mapping[str, Any]], str]


def fraction(percent: float) -> percent_pb2.FractionalPercent:
    return percent_pb2.FractionalPercent(numerator=round(percent * 10000),
                                         denominator=percent_pb2.FractionalPercent.MILLION)


def _percentage(block: Mapping[str, Any]) -> float:
    pct = block.get("percentage")
    if isinstance(pct, Mapping):
        return float(pct.get("value", 100.0))
    if block.get("percent") is not None:  # deprecated int field
        return float(block["percent"])
    return 100.0


def retry_policy(retries: Mapping[str, Any] | None) -> rc.RetryPolicy | None:
    retries = retries if retries is not None else {}
    attempts = int(retries.get("attempts", DEFAULT_RETRIES))
    if attempts <= 0:
        return None
    rp = rc.RetryPolicy(host_selection_retry_max_attempts=5)
    rp.num_retries.value = attempts
    retry_on = [s.strip() for s in str(retries.get("retryOn", DEFAULT_RETRY_ON)).split(",") if s.strip()]
    codes = [int(s) for s in retry_on if s.isdigit()]
    names = [s for s in retry_on if not s.isdigit()]
    if codes and "retriable-status-codes" not in names:
        names.append("retriable-status-codes")
    rp.retry_on = ",".join(names)
    rp.retriable_status_codes.extend(codes)
    if retries.get("perTryTimeout"):
        rp.per_try_timeout.CopyFrom(duration(parse_duration(retries["perTryTimeout"])))
    if retries.get("retryRemoteLocalities") is not True:
        rp.retry_host_predicate.append(rc.RetryPolicy.RetryHostPredicate(
            name="envoy.retry_host_predicates.previous_hosts",
            typed_config=pack(previous_hosts_pb2.PreviousHostsPredicate())))
    return rp


def fault_config(fault: Mapping[str, Any]) -> fault_pb2.HTTPFault:
    f = fault_pb2.HTTPFault()
    delay = fault.get("delay")
    if delay:
        d = common_fault.FaultDelay(percentage=fraction(_percentage(delay)))
        d.fixed_delay.CopyFrom(duration(parse_duration(delay.get("fixedDelay", "0s"))))
        f.delay.CopyFrom(d)
    abort = fault.get("abort")
    if abort:
        a = fault_pb2.FaultAbort(percentage=fraction(_percentage(abort)))
        if abort.get("grpcStatus") is not None:
            a.grpc_status = int(abort["grpcStatus"]) if str(abort["grpcStatus"]).isdigit() else 14
        else:
            a.http_status = int(abort.get("httpStatus", 500))
        f.abort.CopyFrom(a)
    return f


def cors_config(cors: Mapping[str, Any]) -> cors_pb2.CorsPolicy:
    c = cors_pb2.CorsPolicy()
    for o in cors.get("allowOrigins") or []:
        c.allow_origin_string_match.append(string_matcher(o))
    for o in cors.get("allowOrigin") or []:  # deprecated plain strings
        c.allow_origin_string_match.add().exact = str(o)
    if cors.get("allowMethods"):
        c.allow_methods = ",".join(cors["allowMethods"])
    if cors.get("allowHeaders"):
        c.allow_headers = ",".join(cors["allowHeaders"])
    if cors.get("exposeHeaders"):
        c.expose_headers = ",".join(cors["exposeHeaders"])
    if cors.get("maxAge"):
        c.max_age = str(int(parse_duration(cors["maxAge"])))
    if cors.get("allowCredentials") is not None:
        c.allow_credentials.value = bool(cors["allowCredentials"])
    return c


def header_ops(headers: Mapping[str, Any] | None, side: str
               ) -> tuple[list[base_pb2.HeaderValueOption], list[str]]:
    ops = (headers or {}).get(side) or {}
    add: list[base_pb2.HeaderValueOption] = []
    for key, value in sorted((ops.get("set") or {}).items()):
        add.append(base_pb2.HeaderValueOption(
            header=base_pb2.HeaderValue(key=str(key), value=str(value)),
            append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD))
    for key, value in sorted((ops.get("add") or {}).items()):
        add.append(base_pb2.HeaderValueOption(
            header=base_pb2.HeaderValue(key=str(key), value=str(value)),
            append_action=base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD))
    return add, [str(h) for h in ops.get("remove") or []]


_REDIRECT_CODES = {301: rc.RedirectAction.MOVED_PERMANENTLY, 302: rc.RedirectAction.FOUND,
                   303: rc.RedirectAction.SEE_OTHER, 307: rc.RedirectAction.TEMPORARY_REDIRECT,
                   308: rc.RedirectAction.PERMANENT_REDIRECT}


def redirect_action(r: Mapping[str, Any]) -> rc.RedirectAction:
    ra = rc.RedirectAction(response_code=_REDIRECT_CODES.get(int(r.get("redirectCode", 301)),
                                                             rc.RedirectAction.MOVED_PERMANENTLY))
    if r.get("uri"):
        ra.path_redirect = str(r["uri"])
    if r.get("authority"):
        ra.host_redirect = str(r["authority"])
    if r.get("port"):
        ra.port_redirect = int(r["port"])
    if r.get("scheme"):
        ra.scheme_redirect = str(r["scheme"])
    return ra


def direct_response(d: Mapping[str, Any]) -> rc.DirectResponseAction:
    dr = rc.DirectResponseAction(status=int(d.get("status", 200)))
    body = d.get("body") or {}
    if "string" in body:
        dr.body.inline_string = str(body["string"])
    elif "bytes" in body:
        import base64

        dr.body.inline_bytes = base64.b64decode(str(body["bytes"]))
    return dr


def apply_rewrite(action: rc.RouteAction, rewrite: Mapping[str, Any] | None) -> None:
    if not rewrite:
        return
    if rewrite.get("uri") is not None:
        action.prefix_rewrite = str(rewrite["uri"])
    if rewrite.get("uriRegexRewrite"):
        rr = rewrite["uriRegexRewrite"]
        action.regex_rewrite.pattern.CopyFrom(regex_pb2.RegexMatcher(regex=str(rr.get("match", ""))))
        action.regex_rewrite.substitution = str(rr.get("rewrite", ""))
    if rewrite.get("authority"):
        action.host_rewrite_literal = str(rewrite["authority"])


def mirror_policies(http: Mapping[str, Any], cluster_for: ClusterFor) -> list[rc.RouteAction.RequestMirrorPolicy]:
    out = []
    mirrors: list[tuple[Mapping[str, Any], float]] = []
    if http.get("mirror"):
        pct = (http.get("mirrorPercentage") or {}).get("value")
        if pct is None and http.get("mirrorPercent") is not None:
            pct = http["mirrorPercent"]
        mirrors.append((http["mirror"], 100.0 if pct is None else float(pct)))
    for m in http.get("mirrors") or []:
        mirrors.append((m.get("destination") or {}, float((m.get("percentage") or {}).get("value", 100.0))))
    for dest, pct in mirrors:
        mp = rc.RouteAction.RequestMirrorPolicy(cluster=cluster_for(dest))
        mp.runtime_fraction.default_value.CopyFrom(fraction(pct))
        mp.trace_sampled.value = False
        out.append(mp)
    return out


def typed_per_filter(http: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    if http.get("fault"):
        out[FAULT_FILTER] = pack(fault_config(http["fault"]))
    if http.get("corsPolicy"):
        out[CORS_FILTER] = pack(cors_config(http["corsPolicy"]))
    return out


