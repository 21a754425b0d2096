"""Global RateLimitPolicy rules by id, from whatever snapshot the control plane serves right now."""

from __future__ import annotations

from collections.abc import Callable

from pilot.model.ratelimit import RateLimitRule, rules_of
from pilot.model.snapshot import MeshSnapshot


class GlobalRules:
    """Callable: rule id -> rule. Rebuilt once per snapshot version, on first use."""

    def __init__(self, snapshot: Callable[[], MeshSnapshot | None]) -> None:
        self._snapshot = snapshot
        self._version = ""
        self._rules: dict[str, RateLimitRule] = {}

    def __call__(self, rule_id: str) -> RateLimitRule | None:
        snap = self._snapshot()
        if snap is None:
            return None
        if snap.version != self._version:
            self._rules = {r.rule_id: r for p in snap.of_kind("RateLimitPolicy") for r in rules_of(p) if r.is_global}
            self._version = snap.version
        return self._rules.get(rule_id)
