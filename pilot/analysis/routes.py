"""Unreachable rules and ineffective matches in a VirtualService's http, tcp and tls routes
(IST0130 VirtualServiceUnreachableRule, IST0131 VirtualServiceIneffectiveMatch).

Follows Istio's validation-time analysis (istio/istio pkg/config/validation, analyzeUnreachable*Rules),
which istioctl analyze reports under these codes:
- a match-less rule after another match-less rule: "only the last rule can have no matches";
- a rule with matches after a match-less rule: "route without matches defined before";
- a rule whose every match repeats an earlier match: "all matches used by prior rules", and IST0131 for
  each repeated match when only some repeat;
- http only: a `uri.prefix` match covered by an earlier, shorter prefix with the same port, method,
  authority, headers, query parameters and withoutHeaders is IST0131 "overlapping".
Rules are named `"name"` when an http rule has a name, else `#index` (tcp and tls rules have no names).
https://istio.io/latest/docs/reference/config/analysis/ist0130/
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pilot.analysis.messages import INEFFECTIVE_MATCH, UNREACHABLE_RULE, report
from pilot.model.findings import Finding
from pilot.model.resource import Resource

ROUTE_KINDS = ("http", "tcp", "tls")


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _label(item: Any, index: int, named: bool) -> str:
    name = item.get("name") if named and isinstance(item, dict) else None
    return f'"{name}"' if name else f"#{index}"


def _canonical(match: Any) -> str:
    body = {k: v for k, v in match.items() if k != "name"} if isinstance(match, dict) else match
    return json.dumps(body, sort_keys=True, default=str)


@dataclass(frozen=True)
class _PrefixMatch:
    """An http match on a uri prefix with the other fields Istio compares for overlap."""

    rule: str
    match: str
    field: str
    prefix: str
    port: Any
    method: str
    authority: str
    headers: dict[str, str]
    query: dict[str, str]
    without_headers: dict[str, str]


def _exact_or_prefix(sm: Any) -> str:
    if not isinstance(sm, dict):
        return ""
    if sm.get("exact"):
        return f"exact:{sm['exact']}"
    return f"prefix:{sm['prefix']}" if sm.get("prefix") else ""


def _string_map(value: Any) -> dict[str, str]:
    return {str(k): _exact_or_prefix(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _prefix_match(rule: str, match: Any, label: str, field: str) -> _PrefixMatch | None:
    uri = match.get("uri") if isinstance(match, dict) else None
    prefix = uri.get("prefix") if isinstance(uri, dict) else None
    if not prefix:
        return None
    # Istio treats a match without a method as GET when comparing overlaps.
    return _PrefixMatch(rule, label, field, str(prefix), match.get("port"),
                        _exact_or_prefix(match.get("method")) or "exact:GET",
                        _exact_or_prefix(match.get("authority")), _string_map(match.get("headers")),
                        _string_map(match.get("queryParams")), _string_map(match.get("withoutHeaders")))


def _same_or_prefixed(a: str, b: str) -> bool:
    return a == b or a.startswith(b)


def _map_covers(a: dict[str, str], b: dict[str, str]) -> bool:
    return len(a) == len(b) and all(k in b and _same_or_prefixed(v, b[k]) for k, v in a.items())


def _covers(a: _PrefixMatch, b: _PrefixMatch) -> bool:
    """Istio's coveredValidation: earlier match `a` catches everything later match `b` would."""
    return (b.prefix.startswith(a.prefix) and a.port == b.port and _same_or_prefixed(a.method, b.method)
            and _same_or_prefixed(a.authority, b.authority) and _map_covers(a.headers, b.headers)
            and _map_covers(a.query, b.query) and _map_covers(a.without_headers, b.without_headers))


def unreachable_rules(vs: Resource, kind: str) -> list[Finding]:
    rules = _items(vs.spec.get(kind))
    named = kind == "http"
    out: list[Finding] = []
    seen: dict[str, int] = {}
    prefixes: list[_PrefixMatch] = []
    catch_all = False
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        label, where = _label(rule, i, named), f"spec.{kind}[{i}]"
        matches = _items(rule.get("match"))
        if not matches:
            if catch_all:
                out.append(report(UNREACHABLE_RULE, vs, where, label, "only the last rule can have no matches"))
            catch_all = True
            continue
        if catch_all:
            out.append(report(UNREACHABLE_RULE, vs, where, label, "route without matches defined before"))
            continue
        repeated = 0
        for j, match in enumerate(matches):
            key = _canonical(match)
            if key in seen:
                prior = seen[key]
                out.append(report(INEFFECTIVE_MATCH, vs, f"{where}.match[{j}]", label,
                                  _label(match, j, named), _label(rules[prior], prior, named)))
                repeated += 1
                continue
            seen[key] = i
            pm = _prefix_match(label, match, _label(match, j, named), f"{where}.match[{j}]") if named else None
            if pm is not None:
                prefixes.append(pm)
        if repeated == len(matches):
            out.append(report(UNREACHABLE_RULE, vs, where, label, "all matches used by prior rules"))
    for n, earlier in enumerate(prefixes):
        for later in prefixes[n + 1:]:
            if later.prefix != earlier.prefix and _covers(earlier, later):
                out.append(report(INEFFECTIVE_MATCH, vs, later.field, later.rule,
                                  f"{later.match} of prefix {later.prefix}",
                                  f"{earlier.match} of prefix {earlier.prefix} on {earlier.rule}"))
    return out


def route_rule_findings(vs: Resource) -> list[Finding]:
    return [f for kind in ROUTE_KINDS for f in unreachable_rules(vs, kind)]
