"""Security counters for `/metrics`: refusals by reason, denied secret names, certificate rotations."""

from __future__ import annotations

from collections import Counter


class SecurityCounters:
    """Monotonic counters keyed by (metric name, reason label or "")."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def inc(self, name: str, reason: str = "", amount: int = 1) -> None:
        self._counts[(name, reason)] += amount

    def get(self, name: str, reason: str = "") -> int:
        return self._counts[(name, reason)]

    def prometheus_lines(self) -> list[str]:
        """`# TYPE` once per family, then its samples (Prometheus text format 0.0.4)."""
        lines: list[str] = []
        seen: set[str] = set()
        for name, reason in sorted(self._counts):
            if name not in seen:
                seen.add(name)
                lines.append(f"# TYPE {name} counter")
            label = f'{{reason="{reason}"}}' if reason else ""
            lines.append(f"{name}{label} {self._counts[(name, reason)]}")
        return lines
