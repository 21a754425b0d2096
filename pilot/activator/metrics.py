"""The activator's Prometheus metrics (rendered on the control plane's /metrics)."""

from __future__ import annotations

from collections import Counter

from pilot.xds.metrics import Histogram

COLD_START_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)


class ActivatorMetrics:
    def __init__(self) -> None:
        self.cold_start = Histogram("meshpilot_activator_cold_start_seconds",
                                    "Seconds from the first held request of a cold revision to a ready pod",
                                    label="revision", buckets=COLD_START_BUCKETS)
        # result: served | timed_out | queue_full | not_found | upstream_error
        self.requests: Counter[tuple[str, str]] = Counter()
        self.held: Counter[str] = Counter()  # revision -> requests that had to wait
        self.holding: Counter[str] = Counter()  # revision -> requests waiting now
        self.activations: Counter[str] = Counter()  # revision -> activation hook calls
        self.deactivations: Counter[str] = Counter()
        self.handoffs_aborted: Counter[str] = Counter()

    def request(self, revision: str, result: str) -> None:
        self.requests[(revision, result)] += 1

    def lines(self) -> list[str]:
        out = ["# TYPE meshpilot_activator_requests_total counter"]
        out += [f'meshpilot_activator_requests_total{{result="{res}",revision="{rev}"}} {n}'
                for (rev, res), n in sorted(self.requests.items())]
        for name, counter, kind in (("requests_held_total", self.held, "counter"),
                                    ("requests_holding", self.holding, "gauge"),
                                    ("activations_total", self.activations, "counter"),
                                    ("deactivations_total", self.deactivations, "counter"),
                                    ("handoffs_aborted_total", self.handoffs_aborted, "counter")):
            out.append(f"# TYPE meshpilot_activator_{name} {kind}")
            out += [f'meshpilot_activator_{name}{{revision="{rev}"}} {n}' for rev, n in sorted(counter.items())]
        return out + self.cold_start.lines()
