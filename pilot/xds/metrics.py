"""Counters of the xDS server and a Prometheus text renderer for them.

Keys are metric names, optionally with Prometheus labels: `nacks_total{type="rds"}`.
"""

from __future__ import annotations

import re
from collections import Counter

_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?$")


class XdsCounters:
    """Monotonic counters, some split by xDS type (short name)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def inc(self, name: str, type_short: str | None = None, amount: int = 1) -> None:
        self._counts[name] += amount
        if type_short is not None:
            self._counts[f'{name}{{type="{type_short}"}}'] += amount

    def snapshot(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._counts.items()}


def render_prometheus(metrics: dict[str, float], prefix: str = "meshpilot_xds_") -> str:
    """Prometheus text exposition (version 0.0.4): `*_total` are counters, the rest gauges."""
    lines: list[str] = []
    typed: set[str] = set()
    # A family's samples must be adjacent, so sort by the bare name first.
    for key in sorted(metrics, key=lambda k: (k.split("{", 1)[0], k)):
        match = _NAME.match(key)
        if match is None:
            raise ValueError(f"not a metric name: {key!r}")
        name = prefix + match.group(1)
        if name not in typed:
            typed.add(name)
            kind = "counter" if name.endswith("_total") else "gauge"
            lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name}{match.group(2) or ''} {metrics[key]:g}")
    return "\n".join(lines) + "\n"
