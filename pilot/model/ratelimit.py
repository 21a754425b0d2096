"""RateLimitPolicy (policy.meshpilot.io/v1alpha1) as data: rules with a match, a token bucket, the
descriptor keys that split the bucket, the response, and whether the limit is global.

The YAML shape is documented in pilot/validation/ratelimit.py and docs/ratelimit.md. Validation rejects
malformed policies before they reach a snapshot, so parsing here is lenient and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pilot.model.durations import parse_duration
from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource

DEFAULT_STATUS = 429
MIN_FILL_SECONDS = 0.05  # Envoy's minimum token bucket fill interval


@dataclass(frozen=True)
class TokenBucket:
    """`tokens` are added every `fill_seconds`, up to `max_tokens` (= tokens + burst)."""

    tokens: int
    fill_seconds: float
    max_tokens: int

    @property
    def rate_per_second(self) -> float:
        return self.tokens / self.fill_seconds if self.fill_seconds > 0 else 0.0


@dataclass(frozen=True)
class StringMatch:
    kind: str  # exact | prefix | regex
    value: str = ""


@dataclass(frozen=True)
class RateLimitRule:
    policy_namespace: str
    policy_name: str
    name: str
    bucket: TokenBucket
    path: StringMatch | None = None
    method: str = ""
    headers: tuple[tuple[str, StringMatch], ...] = ()
    descriptor_keys: tuple[str, ...] = ()  # "header:<name>" or "client_ip"
    status: int = DEFAULT_STATUS
    response_headers: tuple[tuple[str, str], ...] = ()
    is_global: bool = False

    @property
    def rule_id(self) -> str:
        """Stable identity carried in descriptors, so the rate limit service can find the bucket."""
        return f"{self.policy_namespace}/{self.policy_name}/{self.name}"


def rules_of(policy: Resource) -> list[RateLimitRule]:
    out = []
    for i, raw in enumerate(policy.spec.get("rules") or []):
        rule = _rule(policy, i, raw if isinstance(raw, Mapping) else {})
        if rule is not None:
            out.append(rule)
    return out


def policy_selects(policy: Resource, view: ProxyView) -> bool:
    if policy.namespace != view.namespace:
        return False
    labels = (policy.spec.get("workloadSelector") or {}).get("labels") or {}
    return view.matches(dict(labels))


def rules_for(policies: tuple[Resource, ...] | list[Resource], view: ProxyView) -> list[RateLimitRule]:
    return [r for p in policies if policy_selects(p, view) for r in rules_of(p)]


def _rule(policy: Resource, index: int, raw: Mapping[str, Any]) -> RateLimitRule | None:
    limit = raw.get("limit") or {}
    try:
        tokens = int(limit.get("tokens") or 0)
        fill = parse_duration(str(limit.get("fillInterval") or ""))
        burst = int(limit.get("burst") or 0)
    except (TypeError, ValueError):
        return None
    if tokens <= 0 or fill < MIN_FILL_SECONDS:
        return None  # validation rejects these; Envoy would too
    match = raw.get("match") or {}
    response = raw.get("response") or {}
    keys = []
    for d in raw.get("descriptors") or []:
        if isinstance(d, Mapping) and d.get("header"):
            keys.append(f"header:{str(d['header']).lower()}")
        elif isinstance(d, Mapping) and d.get("clientIp"):
            keys.append("client_ip")
    return RateLimitRule(
        policy_namespace=policy.namespace, policy_name=policy.name, name=str(raw.get("name") or f"rule-{index}"),
        bucket=TokenBucket(tokens, fill, tokens + max(burst, 0)),
        path=_string_match(match.get("path")), method=str(match.get("method") or "").upper(),
        headers=tuple((str(k).lower(), m) for k, v in sorted((match.get("headers") or {}).items())
                      if (m := _string_match(v)) is not None),
        descriptor_keys=tuple(keys),
        status=int(response.get("status") or DEFAULT_STATUS),
        response_headers=tuple(sorted((str(k), str(v)) for k, v in (response.get("headers") or {}).items())),
        is_global=bool(raw.get("global", False)),
    )


def _string_match(raw: Any) -> StringMatch | None:
    if not isinstance(raw, Mapping):
        return None
    for kind in ("exact", "prefix", "regex"):
        if kind in raw:
            return StringMatch(kind, str(raw[kind]))
    return None
