"""Counters of the xDS server and a Prometheus text renderer for them.

Keys are metric names, optionally with Prometheus labels: `nacks_total{type="rds"}`.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?$")


# Istio's buckets for push and convergence histograms (seconds).
BUCKETS = (0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30)


class Histogram:
    """A Prometheus histogram, optionally one series per label value."""

    def __init__(self, name: str, help_text: str, label: str = "", buckets: tuple[float, ...] = BUCKETS) -> None:
        self.name = name
        self.help = help_text
        self.label = label
        self.buckets = buckets
        self._series: dict[str, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, label_value: str = "") -> None:
        counts, total = self._series.setdefault(label_value, ([0] * (len(self.buckets) + 1), [0.0]))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        total[0] += value

    def count(self, label_value: str = "") -> int:
        series = self._series.get(label_value)
        return sum(series[0]) if series else 0

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for value, (counts, total) in sorted(self._series.items()):
            own = f'{self.label}="{value}",' if self.label else ""
            running = 0
            for bound, n in zip(self.buckets, counts, strict=False):
                running += n
                out.append(f'{self.name}_bucket{{{own}le="{bound:g}"}} {running}')
            out.append(f'{self.name}_bucket{{{own}le="+Inf"}} {sum(counts)}')
            tail = f"{{{own.rstrip(',')}}}" if own else ""
            out.append(f"{self.name}_sum{tail} {total[0]:g}")
            out.append(f"{self.name}_count{tail} {sum(counts)}")
        return out


class XdsCounters:
    """Monotonic counters, some split by xDS type (short name), and the time responses take to write."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self.push_time = Histogram("pilot_xds_push_time",
                                   "Seconds from a config change reaching a stream to its response being written",
                                   label="type")

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
