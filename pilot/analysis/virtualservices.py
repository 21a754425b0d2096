"""VirtualService analyzers: destination hosts and subsets (IST0101), gateways (IST0101), two mesh
VirtualServices for one host (IST0109), unreachable rules and duplicate matches (IST0130/IST0131).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pilot.analysis.hosts import destination_rules_for_host, host_known
from pilot.analysis.messages import (
    CONFLICTING_MESH_GATEWAY_HOSTS,
    INEFFECTIVE_MATCH,
    REFERENCED_RESOURCE_NOT_FOUND,
    UNREACHABLE_RULE,
    report,
)
from pilot.model.findings import Finding
from pilot.model.resource import Resource
from pilot.model.scope import resolve_host, vs_gateways
from pilot.model.snapshot import MeshSnapshot

ROUTE_KINDS = ("http", "tcp", "tls")


def _destinations(vs: Resource) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ROUTE_KINDS:
        for i, rule in enumerate(vs.spec.get(kind) or []):
            for j, dest in enumerate(rule.get("route") or []):
                yield f"spec.{kind}[{i}].route[{j}].destination", dest.get("destination") or {}
            if kind == "http" and rule.get("mirror"):
                yield f"spec.http[{i}].mirror", rule["mirror"]


def destination_findings(snapshot: MeshSnapshot, vs: Resource) -> list[Finding]:
    out = []
    suffix = snapshot.mesh.domain_suffix
    for field, dest in _destinations(vs):
        raw = str(dest.get("host") or "")
        if not raw or "*" in raw:
            continue
        host = resolve_host(raw, vs.namespace, suffix)
        if not host_known(snapshot, host):
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, vs, f"{field}.host", "host", raw))
            continue
        subset = str(dest.get("subset") or "")
        if subset and not any(subset == str(s.get("name")) for dr in destination_rules_for_host(snapshot, host)
                              for s in dr.spec.get("subsets") or []):
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, vs, f"{field}.subset",
                              "host+subset in destinationrule", f"{raw}+{subset}"))
    return out


def gateway_findings(snapshot: MeshSnapshot, vs: Resource) -> list[Finding]:
    known = {f"{g.namespace}/{g.name}" for g in snapshot.of_kind("Gateway")}
    out = []
    for i, gw in enumerate(vs_gateways(vs)):
        if gw == "mesh":
            continue
        full = gw if "/" in gw else f"{vs.namespace}/{gw}"
        if full not in known:
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, vs, f"spec.gateways[{i}]", "gateway", gw))
    return out


def conflicting_mesh_hosts(snapshot: MeshSnapshot) -> list[Finding]:
    by_host: dict[str, list[Resource]] = {}
    for vs in snapshot.of_kind("VirtualService"):
        if "mesh" not in vs_gateways(vs):
            continue
        for h in {resolve_host(str(h), vs.namespace, snapshot.mesh.domain_suffix) for h in vs.spec.get("hosts") or []}:
            by_host.setdefault(h, []).append(vs)
    out: list[Finding] = []
    for host, owners in sorted(by_host.items()):
        owners = list({v.key: v for v in owners}.values())
        if len(owners) < 2:
            continue
        names = ",".join(f"{v.namespace}/{v.name}" for v in owners)
        out.extend(report(CONFLICTING_MESH_GATEWAY_HOSTS, vs, "spec.hosts", names, host) for vs in owners)
    return out


def _canonical(match: Any) -> str:
    body = {k: v for k, v in (match or {}).items() if k != "name"}
    return json.dumps(body, sort_keys=True)


def unreachable_rules(vs: Resource) -> list[Finding]:
    """Istio's analyzeUnreachableHTTPRules: rules after a match-less one, and rules whose every match
    repeats an earlier match."""
    out = []
    seen: dict[str, int] = {}
    catch_all_at: int | None = None
    for i, rule in enumerate(vs.spec.get("http") or []):
        label = str(rule.get("name") or i)
        matches = rule.get("match") or []
        if catch_all_at is not None:
            out.append(report(UNREACHABLE_RULE, vs, f"spec.http[{i}]", label,
                              "only the last rule can have no matches"))
            continue
        if not matches:
            catch_all_at = i
            continue
        dups = []
        for j, m in enumerate(matches):
            key = _canonical(m)
            if key in seen:
                dups.append((j, seen[key]))
            else:
                seen[key] = i
        if dups and len(dups) == len(matches):
            out.append(report(UNREACHABLE_RULE, vs, f"spec.http[{i}]", label, "all matches used by prior rules"))
        else:
            out.extend(report(INEFFECTIVE_MATCH, vs, f"spec.http[{i}].match[{j}]", label, j, prior)
                       for j, prior in dups)
    return out


def analyze_virtual_services(snapshot: MeshSnapshot) -> list[Finding]:
    out: list[Finding] = []
    for vs in snapshot.of_kind("VirtualService"):
        out += destination_findings(snapshot, vs) + gateway_findings(snapshot, vs) + unreachable_rules(vs)
    return out + conflicting_mesh_hosts(snapshot)
