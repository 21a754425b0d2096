"""Istio's push metrics, with Istio's names, so dashboards built for istiod read meshpilot too.

- `pilot_proxy_convergence_time`: seconds from a config change reaching the control plane to a proxy's
  new config being in the xDS cache (its streams are woken then and write it out next).
- `pilot_proxy_queue_time`: seconds a connecting proxy waited before its config was generated.
- `pilot_push_triggers{type}`: pushes by the kind of config that triggered them.
https://istio.io/latest/docs/reference/commands/pilot-discovery/#metrics
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pilot.model.resource import ConfigKey
from pilot.xds.metrics import Histogram


class PushMetrics:
    def __init__(self) -> None:
        self.convergence = Histogram("pilot_proxy_convergence_time",
                                     "Delay in seconds between a config change and a proxy getting it")
        self.queue = Histogram("pilot_proxy_queue_time",
                               "Seconds a connecting proxy waited until its config was generated")
        self.triggers: Counter[str] = Counter()

    def converged(self, seconds: float) -> None:
        self.convergence.observe(seconds)

    def queued(self, seconds: float) -> None:
        self.queue.observe(seconds)

    def trigger(self, keys: Iterable[object]) -> None:
        kinds = {k.kind for k in keys if isinstance(k, ConfigKey)} or {"full"}
        for kind in kinds:
            self.triggers[kind] += 1

    def lines(self) -> list[str]:
        out = [*self.convergence.lines(), *self.queue.lines(), "# TYPE pilot_push_triggers counter"]
        out += [f'pilot_push_triggers{{type="{kind}"}} {n}' for kind, n in sorted(self.triggers.items())]
        return out
