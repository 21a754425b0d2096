"""Request rates and error ratios from two scrapes of the sidecars' request counters (pure functions).

The counter is the sidecars' request counter with Istio's labels (docs/telemetry-metrics.md:
`envoy_cluster_upstream_rq`; Istio's own proxies call it `istio_requests_total`, so the name is
configurable), one series per (reporter, source workload, destination service, version, response code):
https://istio.io/latest/docs/reference/config/metrics/. A rate is the counter's increase between two
scrapes over the seconds between them, as PromQL's `rate()`; the error ratio is 5xx / all, as Kiali's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from pilot.dashboard.prom_text import Sample

K = TypeVar("K")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class RequestKey:
    """One series of the request counter, reduced to what a graph edge needs."""

    reporter: str  # "source" (the caller's sidecar), "destination" (the server's), "" (not said)
    source_workload: str
    source_namespace: str
    destination_service: str  # FQDN
    destination_version: str
    response_code: str


@dataclass(frozen=True)
class Scrape:
    """Every target's counters at one moment; a target that did not answer is absent."""

    time: float
    counters: Mapping[str, Mapping[RequestKey, float]]


@dataclass(frozen=True, slots=True)
class Rate:
    rps: float
    error_ratio: float | None  # None: no requests, so no ratio
    requests: float  # the increase the rate was computed from

    def as_dict(self) -> dict[str, float | None]:
        return {"rps": round(self.rps, 3), "error_ratio": None if self.error_ratio is None
                else round(self.error_ratio, 4), "requests": round(self.requests, 3)}


IDLE = Rate(0.0, None, 0.0)


def request_key(sample: Sample, domain_suffix: str = "cluster.local") -> RequestKey | None:
    """The series a sample belongs to; None without a destination service."""
    dest = sample.label("destination_service")
    if not dest:
        name = sample.label("destination_service_name")
        if not name:
            return None
        dest = f"{name}.{sample.label('destination_service_namespace', 'default')}.svc.{domain_suffix}"
    return RequestKey(sample.label("reporter"), sample.label("source_workload", "unknown") or "unknown",
                      sample.label("source_workload_namespace"), dest,
                      sample.label("destination_version", "unknown"), sample.label("response_code"))


def request_counters(samples: Iterable[Sample], domain_suffix: str = "cluster.local") -> dict[RequestKey, float]:
    """Counters per key (series that differ only in labels we drop are added together)."""
    out: dict[RequestKey, float] = {}
    for s in samples:
        key = request_key(s, domain_suffix)
        if key is not None and s.value == s.value:  # NaN != NaN: skip it
            out[key] = out.get(key, 0.0) + s.value
    return out


def increases(before: Mapping[K, float], after: Mapping[K, float]) -> dict[K, float]:
    """Counter increase per key. A counter that went down was reset (its Envoy restarted) and counts from
    zero, as PromQL's `increase()`; a key new in `after` counts from zero too, because Envoy creates a
    series on its first request."""
    out: dict[K, float] = {}
    for key, now in after.items():
        was = before.get(key, 0.0)
        out[key] = now - was if now >= was else now
    return out


def scrape_increases(t0: Scrape, t1: Scrape) -> dict[RequestKey, float]:
    """Increases over all targets answering both times: a target seen for the first time has counted
    since its start, not since t0, so it only counts from its second scrape."""
    total: dict[RequestKey, float] = {}
    for target, after in t1.counters.items():
        before = t0.counters.get(target)
        if before is None:
            continue
        for key, inc in increases(before, after).items():
            total[key] = total.get(key, 0.0) + inc
    return total


def is_error(response_code: str) -> bool:
    return response_code.startswith("5")


def edge_rates(by_key: Mapping[RequestKey, float], seconds: float,
               edge_of: Callable[[RequestKey], E | None]) -> dict[E, Rate]:
    """Rates per edge: keys grouped by `edge_of` (None drops a key), over `seconds`."""
    totals: dict[E, list[float]] = {}
    for key, inc in by_key.items():
        edge = edge_of(key)
        if edge is None:
            continue
        acc = totals.setdefault(edge, [0.0, 0.0])
        acc[0] += inc
        if is_error(key.response_code):
            acc[1] += inc
    return {edge: rate(total, errors, seconds) for edge, (total, errors) in totals.items()}


def rate(total: float, errors: float, seconds: float) -> Rate:
    if seconds <= 0:
        return Rate(0.0, None, total)
    return Rate(total / seconds, errors / total if total > 0 else None, total)
