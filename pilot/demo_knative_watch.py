"""What `pilot demo --knative` reads from the control plane each second, and the events it makes of it.

- `/debug/knative` (`pilot knative status`): the Service's traffic as programmed now (the rollout's
  steps) and which revisions are ready;
- `/metrics`: `meshpilot_activator_cold_start_seconds`, the activator's own measure of a cold start
  (from the first held request to a ready pod, pilot/activator/core.py);
- the demo's kubelet: which revisions the deactivation hook scaled to zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pilot.testing import prom

COLD_START = "meshpilot_activator_cold_start_seconds"
ABORTED = "meshpilot_activator_handoffs_aborted_total"


def route_shares(report: dict[str, Any], namespace: str, service: str) -> dict[str, int]:
    """revision -> percent of the Service's own URL (tag URLs left out), as the control plane routes it."""
    for obj in report.get("objects", []):
        if (obj.get("kind"), obj.get("namespace"), obj.get("name")) == ("KnativeService", namespace, service):
            shares: dict[str, int] = {}
            for target in (obj.get("status") or {}).get("traffic", []):
                if target.get("percent"):
                    rev = str(target.get("revisionName"))
                    shares[rev] = shares.get(rev, 0) + int(target["percent"])
            return shares
    return {}


def ready_revisions(report: dict[str, Any], namespace: str) -> set[str]:
    return {r["name"] for r in report.get("revisions", []) if r.get("namespace") == namespace and r.get("ready")}


def shares_text(shares: dict[str, int]) -> str:
    return " ".join(f"{rev} {pct}%" for rev, pct in sorted(shares.items())) or "nothing routed"


def _revision(sample: prom.Sample, namespace: str) -> str:
    ns, _, name = sample.labels.get("revision", "").partition("/")
    return name if ns == namespace else ""


def aborted_handoffs(samples: list[prom.Sample], namespace: str) -> set[str]:
    return {_revision(s, namespace) for s in samples if s.name == ABORTED and s.value > 0} - {""}


def cold_starts(samples: list[prom.Sample], namespace: str) -> dict[str, tuple[int, float]]:
    """revision -> (cold starts, total seconds) from the activator's histogram."""
    out: dict[str, tuple[int, float]] = {}
    for s in samples:
        if s.name == f"{COLD_START}_count" and _revision(s, namespace):
            total = prom.total(samples, f"{COLD_START}_sum", revision=s.labels["revision"])
            out[_revision(s, namespace)] = (int(s.value), total)
    return out


@dataclass
class Observer:
    """The state last seen, so that each poll reports only what changed."""

    namespace: str
    service: str
    idle_s: float  # the control plane's --scale-to-zero-after, for the event's wording
    route: dict[str, int] = field(default_factory=dict)
    ready: set[str] = field(default_factory=set)
    cold: dict[str, tuple[int, float]] = field(default_factory=dict)
    scaled_to_zero: list[str] = field(default_factory=list)
    aborted: set[str] = field(default_factory=set)
    last_cold_start: dict[str, float] = field(default_factory=dict)  # revision -> seconds

    def update(self, report: dict[str, Any], metrics: str, deactivations: list[str]) -> list[str]:
        events = []
        ready = ready_revisions(report, self.namespace)
        events += [f"{rev} ready (its pod answers)" for rev in sorted(ready - self.ready)]
        self.ready |= ready
        route = route_shares(report, self.namespace, self.service)
        if route and route != self.route:
            events.append(f"control plane routes {self.service}: {shares_text(route)}")
            self.route = route
        for rev in deactivations[len(self.scaled_to_zero):]:
            events.append(f"{rev} scaled to zero: idle {self.idle_s:g} s, its endpoints handed to the activator "
                          "(every proxy ACKed), then the deactivation hook stopped its app")
            self.scaled_to_zero.append(rev)
        samples = prom.parse(metrics)
        for rev in sorted(aborted_handoffs(samples, self.namespace) - self.aborted):
            events.append(f"{rev}: scale to zero aborted, requests reached the activator during the hand-off "
                          "(idle is measured at the activator, which does not see requests sent straight to the "
                          "pods; nothing lost, retried each idle window; docs/activator.md, Limits)")
            self.aborted.add(rev)
        for rev, (count, total) in sorted(cold_starts(samples, self.namespace).items()):
            seen, seen_total = self.cold.get(rev, (0, 0.0))
            if count > seen:
                took = (total - seen_total) / (count - seen)
                self.last_cold_start[rev] = took
                events.append(f"{rev} cold start took {took:.2f} s (activator: first held request to a ready pod)")
                self.cold[rev] = (count, total)
        return events
