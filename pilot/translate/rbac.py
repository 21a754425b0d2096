"""AuthorizationPolicy -> Envoy RBAC filters (HTTP and network), as Istio's authz builder does.

- One RBAC filter per action, in the order AUDIT (action LOG), DENY, ALLOW: a request is denied if any
  DENY rule matches, and must match some ALLOW rule when any ALLOW policy applies.
- Each rule i of policy ns/name is one RBAC policy `ns[<ns>]-policy[<name>]-rule[<i>]`: rules are ORed;
  inside a rule `from`, `to` and `when` are ANDed; values in one field are ORed.
- A policy with no rules matches nothing (an ALLOW policy `spec: {}` denies everything); `rules: [{}]`
  matches everything.
- HTTP-only fields on a TCP chain (and any value we cannot translate): for ALLOW the whole rule is dropped
  (a narrower allow), for DENY/AUDIT only that value is dropped (a wider deny). Both fail closed.
- CUSTOM (ext_authz) is not supported: its rules become DENY rules (fail closed) and a Finding says so.
- `istio.io/dry-run: "true"` puts a policy in shadow rules.

https://istio.io/latest/docs/reference/config/security/authorization-policy/
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from envoy.config.listener.v3.listener_components_pb2 import Filter
from envoy.config.rbac.v3.rbac_pb2 import RBAC, Permission, Policy, Principal
from envoy.extensions.filters.http.rbac.v3.rbac_pb2 import RBAC as HttpRBAC
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import HttpFilter
from envoy.extensions.filters.network.rbac.v3.rbac_pb2 import RBAC as NetworkRBAC
from google.protobuf.any_pb2 import Any as AnyPb

from pilot.model.findings import Finding, Severity
from pilot.model.resource import Resource
from pilot.translate.rbac_matchers import (
    OPERATION_FIELDS,
    SOURCE_FIELDS,
    WHEN_PERMISSIONS,
    ConditionError,
    Context,
    HttpOnlyError,
    when_principal_gen,
)

HTTP_RBAC_FILTER = "envoy.filters.http.rbac"
NETWORK_RBAC_FILTER = "envoy.filters.network.rbac"
TCP_STAT_PREFIX = "tcp."
DRY_RUN_ANNOTATION = "istio.io/dry-run"
CUSTOM_UNSUPPORTED = ("CUSTOM action is not supported (no ext_authz providers); "
                      "its rules deny matching requests")
_SHADOW_PREFIX = {RBAC.ALLOW: "istio_dry_run_allow_", RBAC.DENY: "istio_dry_run_deny_", RBAC.LOG: ""}

P = TypeVar("P", Principal, Permission)


def policy_name(namespace: str, name: str, rule: int) -> str:
    return f"ns[{namespace}]-policy[{name}]-rule[{rule}]"


class _DropRule(Exception):
    """An ALLOW rule with a condition we cannot enforce is dropped whole."""


@dataclass
class _Builder:
    action: int  # RBAC.Action
    ctx: Context
    policy: Resource
    findings: list[Finding]
    rule_index: int = 0

    def _field(self, path: str) -> str:
        return f"spec.rules[{self.rule_index}].{path}"

    def values(self, gen: Callable[[str, str, Context], P], key: str, path: str,
               values: Sequence[Any]) -> list[P]:
        out: list[P] = []
        for v in values:
            try:
                out.append(gen(key, str(v), self.ctx))
            except ConditionError as e:
                if self.action == RBAC.ALLOW:
                    raise _DropRule(f"{e}: rule skipped (ALLOW fails closed)") from e
                quiet = isinstance(e, HttpOnlyError)
                self.findings.append(Finding.about(
                    self.policy, self._field(path), f"{e}: value ignored, so the rule matches more",
                    code="MP0403", severity=Severity.INFO if quiet else Severity.WARNING))
        return out

    def condition(self, gen: Callable[[str, str, Context], P], key: str, path: str,
                  values: Sequence[Any], not_values: Sequence[Any],
                  combine: Callable[[list[P]], P], negate: Callable[[P], P]) -> list[P]:
        out: list[P] = []
        if got := self.values(gen, key, path, values or []):
            out.append(combine(got))
        if got := self.values(gen, key, path, not_values or []):
            out.append(negate(combine(got)))
        return out


def _or_ids(ids: list[Principal]) -> Principal:
    return Principal(or_ids=Principal.Set(ids=ids))


def _and_ids(ids: list[Principal]) -> Principal:
    return Principal(and_ids=Principal.Set(ids=ids or [Principal(any=True)]))


def _not_id(p: Principal) -> Principal:
    return Principal(not_id=p)


def _or_rules(rules: list[Permission]) -> Permission:
    return Permission(or_rules=Permission.Set(rules=rules))


def _and_rules(rules: list[Permission]) -> Permission:
    return Permission(and_rules=Permission.Set(rules=rules or [Permission(any=True)]))


def _not_rule(p: Permission) -> Permission:
    return Permission(not_rule=p)


MATCH_NEVER = Policy(permissions=[Permission(not_rule=Permission(any=True))],
                     principals=[Principal(not_id=Principal(any=True))])


def _when(b: _Builder, when: Sequence[Mapping[str, Any]]) -> tuple[list[Principal], list[Permission]]:
    principals: list[Principal] = []
    permissions: list[Permission] = []
    for i, cond in enumerate(when):
        key = str(cond.get("key", ""))
        path = f"when[{i}]"
        vals, nots = cond.get("values") or [], cond.get("notValues") or []
        if (pgen := when_principal_gen(key)) is not None:
            principals += b.condition(pgen, key, path, vals, nots, _or_ids, _not_id)
        elif (rgen := WHEN_PERMISSIONS.get(key)) is not None:
            permissions += b.condition(rgen, key, path, vals, nots, _or_rules, _not_rule)
        elif b.action == RBAC.ALLOW:
            raise _DropRule(f"unsupported condition key {key!r}: rule skipped (ALLOW fails closed)")
        else:
            b.findings.append(Finding.about(b.policy, b._field(path), f"unsupported condition key {key!r}: "
                                            "condition ignored, so the rule matches more", code="MP0403",
                                            severity=Severity.WARNING))
    return principals, permissions


def build_rule(b: _Builder, rule: Mapping[str, Any]) -> Policy:
    """One Istio rule -> one RBAC Policy (raises _DropRule for an ALLOW rule that cannot be enforced)."""
    when_principals, when_permissions = _when(b, rule.get("when") or [])
    principals = []
    for i, entry in enumerate(rule.get("from") or [None]):
        source = (entry or {}).get("source") or {}
        ands: list[Principal] = []
        for name, not_name, gen in SOURCE_FIELDS:
            ands += b.condition(gen, name, f"from[{i}].source.{name}", source.get(name) or [],
                                source.get(not_name) or [], _or_ids, _not_id)
        principals.append(_and_ids(ands + when_principals))
    permissions = []
    for i, entry in enumerate(rule.get("to") or [None]):
        operation = (entry or {}).get("operation") or {}
        rules: list[Permission] = []
        for name, not_name, gen in OPERATION_FIELDS:
            rules += b.condition(gen, name, f"to[{i}].operation.{name}", operation.get(name) or [],
                                 operation.get(not_name) or [], _or_rules, _not_rule)
        permissions.append(_and_rules(rules + when_permissions))
    return Policy(permissions=permissions, principals=principals)


@dataclass
class ActionRules:
    """The enforced and dry-run (shadow) rules of one action."""

    rules: RBAC | None = None
    shadow: RBAC | None = None
    findings: list[Finding] = field(default_factory=list)


def _target(out: ActionRules, dry_run: bool, action: int) -> RBAC:
    if dry_run:
        out.shadow = out.shadow if out.shadow is not None else RBAC(action=action)  # type: ignore[arg-type]
        return out.shadow
    out.rules = out.rules if out.rules is not None else RBAC(action=action)  # type: ignore[arg-type]
    return out.rules


def build_action_rules(policies: Sequence[Resource], action: int, for_tcp: bool,
                       trust_domain: str = "cluster.local", name_suffix: str = "",
                       out: ActionRules | None = None) -> ActionRules:
    """The RBAC rules of one action; `out` accumulates (CUSTOM rules join the DENY rules)."""
    out = out if out is not None else ActionRules()
    for res in policies:
        target = _target(out, res.annotations.get(DRY_RUN_ANNOTATION, "").lower() == "true", action)
        rules = res.spec.get("rules") or []
        if not rules:
            target.policies[policy_name(res.namespace, res.name, 0) + name_suffix].CopyFrom(MATCH_NEVER)
        for i, rule in enumerate(rules):
            if rule is None:
                out.findings.append(Finding.about(res, f"spec.rules[{i}]", "empty (null) rule skipped",
                                                  code="MP0402", severity=Severity.WARNING))
                continue
            b = _Builder(action, Context(for_tcp, res.namespace, trust_domain), res, out.findings, i)
            try:
                policy = build_rule(b, rule)
            except _DropRule as e:
                out.findings.append(Finding.about(res, f"spec.rules[{i}]", str(e), code="MP0402",
                                                  severity=Severity.INFO if for_tcp else Severity.WARNING))
                continue
            target.policies[policy_name(res.namespace, res.name, i) + name_suffix].CopyFrom(policy)
    return out


_ACTIONS = (("AUDIT", RBAC.LOG), ("DENY", RBAC.DENY), ("ALLOW", RBAC.ALLOW))


def _rules_in_order(policies_by_action: Mapping[str, Sequence[Resource]], for_tcp: bool, trust_domain: str,
                    findings: list[Finding] | None) -> list[ActionRules]:
    sink = findings if findings is not None else []
    custom = list(policies_by_action.get("CUSTOM") or [])
    for res in custom:
        sink.append(Finding.about(res, "spec.action", CUSTOM_UNSUPPORTED, code="MP0401"))
    for action in set(policies_by_action) - {"ALLOW", "DENY", "AUDIT", "CUSTOM"}:
        for res in policies_by_action[action]:
            sink.append(Finding.about(res, "spec.action", f"unknown action {action!r}: policy ignored",
                                      code="MP0401"))
    out = []
    for name, action in _ACTIONS:
        built = build_action_rules(policies_by_action.get(name) or [], action, for_tcp, trust_domain)
        if name == "DENY" and custom:
            build_action_rules(custom, action, for_tcp, trust_domain, "-deny-unsupported-CUSTOM", out=built)
        sink.extend(built.findings)
        if built.rules is not None or built.shadow is not None:
            out.append(built)
    return out


def _pack(msg: Any) -> AnyPb:
    out = AnyPb()
    out.Pack(msg, deterministic=True)
    return out


def build_http_rbac_filters(policies_by_action: Mapping[str, Sequence[Resource]],
                            trust_domain: str = "cluster.local",
                            findings: list[Finding] | None = None) -> list[HttpFilter]:
    """`envoy.filters.http.rbac` filters (AUDIT, DENY, ALLOW) for an inbound HTTP connection manager."""
    filters = []
    for built in _rules_in_order(policies_by_action, False, trust_domain, findings):
        cfg = HttpRBAC()
        if built.rules is not None:
            cfg.rules.CopyFrom(built.rules)
        if built.shadow is not None:
            cfg.shadow_rules.CopyFrom(built.shadow)
            cfg.shadow_rules_stat_prefix = _SHADOW_PREFIX[built.shadow.action]
        filters.append(HttpFilter(name=HTTP_RBAC_FILTER, typed_config=_pack(cfg)))
    return filters


def build_network_rbac_filters(policies_by_action: Mapping[str, Sequence[Resource]],
                               trust_domain: str = "cluster.local",
                               findings: list[Finding] | None = None) -> list[Filter]:
    """`envoy.filters.network.rbac` filters (AUDIT, DENY, ALLOW) for an inbound TCP filter chain."""
    filters = []
    for built in _rules_in_order(policies_by_action, True, trust_domain, findings):
        cfg = NetworkRBAC(stat_prefix=TCP_STAT_PREFIX)
        if built.rules is not None:
            cfg.rules.CopyFrom(built.rules)
        if built.shadow is not None:
            cfg.shadow_rules.CopyFrom(built.shadow)
            cfg.shadow_rules_stat_prefix = _SHADOW_PREFIX[built.shadow.action]
        filters.append(Filter(name=NETWORK_RBAC_FILTER, typed_config=_pack(cfg)))
    return filters
