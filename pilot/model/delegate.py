"""VirtualService delegation: a root VirtualService's `http[].delegate` pulls in another VirtualService's
HTTP routes, each narrowed by the root route's match (Istio merges these before translation,
model/virtualservice.go). One level only; a delegate has no `hosts`.
https://istio.io/latest/docs/reference/config/networking/virtual-service/#Delegate

A delegate's match must stay inside the root's: a delegate route whose match contradicts the root's
(different exact URI, a prefix outside the root prefix, a conflicting header) is dropped, as istiod does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pilot.model.resource import Resource
from pilot.model.scope import exported_to, resolve_host
from pilot.model.snapshot import MeshSnapshot

_EQUAL_FIELDS = ("scheme", "method", "authority", "port", "sourceNamespace", "ignoreUriCase")
_MAP_FIELDS = ("headers", "queryParams", "withoutHeaders", "sourceLabels")
Match = Mapping[str, Any]


class MatchConflict(ValueError):
    pass


def _uri_within(root: Match, child: Match) -> Match:
    """The URI matcher of a delegate route under a root URI matcher (the narrower one)."""
    if "exact" in root:
        if child.get("exact") != root["exact"]:
            raise MatchConflict(f"uri {child} is outside {root}")
        return child
    if "prefix" in root:
        value = child.get("exact", child.get("prefix"))
        if value is None or not str(value).startswith(str(root["prefix"])):
            raise MatchConflict(f"uri {child} is outside {root}")
        return child
    if root != child:
        raise MatchConflict(f"uri {child} differs from regex {root}")
    return child


def merge_match(root: Match | None, child: Match | None) -> dict[str, Any] | None:
    """A match equal to `root AND child`; raises MatchConflict when the two cannot both hold."""
    if not root:
        return dict(child) if child else None
    if not child:
        return dict(root)
    out = dict(root)
    for key, value in child.items():
        if key == "uri" and "uri" in root:
            out["uri"] = dict(_uri_within(root["uri"], value))
        elif key in _MAP_FIELDS:
            merged = dict(root.get(key) or {})
            for k, v in (value or {}).items():
                if k in merged and merged[k] != v:
                    raise MatchConflict(f"{key}.{k} differs")
                merged[k] = v
            out[key] = merged
        elif key in _EQUAL_FIELDS and key in root and root[key] != value:
            raise MatchConflict(f"{key} differs")
        else:
            out[key] = value
    return out


def _qualify_hosts(http: Mapping[str, Any], namespace: str, domain_suffix: str) -> dict[str, Any]:
    """Resolve short destination hosts in the delegate's own namespace before it moves under the root."""
    def qualify(dest: Mapping[str, Any]) -> dict[str, Any]:
        d = dict(dest)
        if d.get("host"):
            d["host"] = resolve_host(str(d["host"]), namespace, domain_suffix)
        return d

    out = dict(http)
    if http.get("route"):
        out["route"] = [{**r, "destination": qualify(r.get("destination") or {})} for r in http["route"]]
    if http.get("mirror"):
        out["mirror"] = qualify(http["mirror"])
    if http.get("mirrors"):
        out["mirrors"] = [{**m, "destination": qualify(m.get("destination") or {})} for m in http["mirrors"]]
    return out


def find_delegate(snapshot: MeshSnapshot, root: Resource, ref: Mapping[str, Any]) -> Resource | None:
    ns = str(ref.get("namespace") or root.namespace)
    vs = snapshot.lookup(dataclasses.replace(root.key, namespace=ns, name=str(ref.get("name", ""))))
    if vs is None or vs.spec.get("hosts") or not exported_to(vs.spec, vs.namespace, root.namespace):
        return None
    return vs


def delegated_routes(snapshot: MeshSnapshot, root: Resource, http: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The delegate's HTTP routes with the root route's matches folded into each."""
    delegate = find_delegate(snapshot, root, http.get("delegate") or {})
    if delegate is None:
        return []
    out = []
    root_matches: list[Match | None] = list(http.get("match") or [None])
    for child in delegate.spec.get("http") or []:
        if child.get("delegate"):
            continue  # only one level of delegation
        merged = []
        for rm in root_matches:
            for cm in list(child.get("match") or [None]):
                try:
                    m = merge_match(rm, cm)
                except MatchConflict:
                    continue
                merged.append(m)
        if not merged:
            continue
        route = _qualify_hosts(child, delegate.namespace, snapshot.mesh.domain_suffix)
        if any(m is None for m in merged):
            route.pop("match", None)  # neither side matches on anything: a catch-all
        else:
            route["match"] = merged
        out.append(route)
    return out


def expand_delegates(snapshot: MeshSnapshot, vs: Resource) -> Resource:
    """`vs` with every delegating HTTP route replaced by the delegate's merged routes."""
    http = list(vs.spec.get("http") or [])
    if not any(h.get("delegate") for h in http):
        return vs
    expanded: list[Mapping[str, Any]] = []
    for h in http:
        expanded.extend(delegated_routes(snapshot, vs, h) if h.get("delegate") else [h])
    return dataclasses.replace(vs, spec={**vs.spec, "http": expanded})
