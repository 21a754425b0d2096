"""Envoy RBAC semantics over a simulated connection and request.

A policy matches when any of its permissions AND any of its principals match. An ALLOW engine allows
a request only if some policy matches; a DENY engine denies it if some policy matches; LOG never
blocks. Istio puts one filter per action in the order AUDIT, DENY, ALLOW, so a DENY match wins.
https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/rbac/v3/rbac.proto
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from envoy.config.core.v3 import address_pb2
from envoy.config.rbac.v3.rbac_pb2 import RBAC, Permission, Policy, Principal

from pilot.simulate.matchers import header_matches, string_matches


@dataclass
class Peer:
    """What the RBAC engine knows about one request on the server side."""

    headers: Mapping[str, str]  # lower-case, with pseudo-headers
    path: str  # without query
    source_ip: str = ""
    destination_ip: str = ""
    destination_port: int = 0
    principal: str = ""  # the client's SPIFFE id when the connection is mTLS, else ""
    server_name: str = ""
    notes: list[str] = field(default_factory=list)


def _in_cidr(ip: str, cidr: address_pb2.CidrRange) -> bool:
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
        length = cidr.prefix_len.value  # Envoy: unset means 0, i.e. every address
        return addr in ipaddress.ip_network(f"{cidr.address_prefix}/{length}", strict=False)
    except ValueError:
        return False


def permission_matches(p: Permission, peer: Peer) -> bool:
    kind = p.WhichOneof("rule")
    if kind == "any":
        return p.any
    if kind == "and_rules":
        return all(permission_matches(r, peer) for r in p.and_rules.rules)
    if kind == "or_rules":
        return any(permission_matches(r, peer) for r in p.or_rules.rules)
    if kind == "not_rule":
        return not permission_matches(p.not_rule, peer)
    if kind == "header":
        return header_matches(p.header, peer.headers)
    if kind == "url_path":
        return string_matches(p.url_path.path, peer.path)
    if kind == "destination_ip":
        return _in_cidr(peer.destination_ip, p.destination_ip)
    if kind == "destination_port":
        return p.destination_port == peer.destination_port
    if kind == "destination_port_range":
        return p.destination_port_range.start <= peer.destination_port < p.destination_port_range.end
    if kind == "requested_server_name":
        return string_matches(p.requested_server_name, peer.server_name)
    peer.notes.append(f"RBAC permission {kind!r} is not simulated: treated as no match")
    return False


def principal_matches(p: Principal, peer: Peer) -> bool:
    kind = p.WhichOneof("identifier")
    if kind == "any":
        return p.any
    if kind == "and_ids":
        return all(principal_matches(i, peer) for i in p.and_ids.ids)
    if kind == "or_ids":
        return any(principal_matches(i, peer) for i in p.or_ids.ids)
    if kind == "not_id":
        return not principal_matches(p.not_id, peer)
    if kind == "authenticated":
        if not peer.principal:
            return False
        if not p.authenticated.HasField("principal_name"):
            return True
        return string_matches(p.authenticated.principal_name, peer.principal)
    if kind in ("direct_remote_ip", "remote_ip", "source_ip"):
        return _in_cidr(peer.source_ip, getattr(p, kind))
    if kind == "header":
        return header_matches(p.header, peer.headers)
    if kind == "url_path":
        return string_matches(p.url_path.path, peer.path)
    # metadata (JWT claims, request principals), filter_state, custom: no JWT in a simulated request
    peer.notes.append(f"RBAC principal {kind!r} is not simulated (no JWT): treated as no match")
    return False


def policy_matches(policy: Policy, peer: Peer) -> bool:
    if policy.HasField("condition"):
        peer.notes.append("RBAC CEL condition is not simulated: policy treated as no match")
        return False
    return (any(permission_matches(p, peer) for p in policy.permissions)
            and any(principal_matches(i, peer) for i in policy.principals))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: str = ""  # the policy that decided (matched DENY/ALLOW), "" when none matched
    action: str = ""  # ALLOW | DENY | LOG


def first_match(rules: RBAC, peer: Peer) -> str:
    for name in sorted(rules.policies):  # Envoy keeps policies in a map; report a stable name
        if policy_matches(rules.policies[name], peer):
            return name
    return ""


def evaluate(rules: RBAC, peer: Peer) -> Decision:
    action = RBAC.Action.Name(rules.action)
    matched = first_match(rules, peer)
    if rules.action == RBAC.ALLOW:
        return Decision(bool(matched), matched, action)
    if rules.action == RBAC.DENY:
        return Decision(not matched, matched, action)
    return Decision(True, matched, action)
