"""The Knative reconciler: a stateful stage between the config store and the snapshot.

Each rebuild hands it the store's resources; it returns them plus the resources it derives (derive.py),
and the keys of the derived resources that changed, so the push reaches the proxies they touch. The
model stays immutable: what it remembers lives here, and only here:

- the revision history of every Configuration (revisions.py);
- which revisions have been ready (a revision is Ready once it had a ready pod, and stays so when it
  scales to zero, as a Knative Revision does);
- each Route's last good traffic: a Route whose targets cannot all be resolved (no such revision, or
  no ready revision to follow) keeps serving it, and says why in its status;
- each Route's rollout state, and when its next step is due (`next_due`): the control plane must
  rebuild then (server wiring: pilot/knative_serve.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pilot.knative import rollout
from pilot.knative.derive import RevisionPods, revision_resources, route_resources
from pilot.knative.revisions import RevisionHistory
from pilot.knative.spec import (
    KIND_CONFIGURATION,
    KIND_ROUTE,
    KIND_SERVICE,
    LABEL_REVISION,
    KnativeObjects,
    RouteSpec,
    pod_is_ready,
    read_objects,
)
from pilot.knative.status import ConfigState, RouteState, configuration_status, route_status, service_status
from pilot.knative.traffic import Split, resolve
from pilot.model.registry import DEFAULT_DOMAIN_SUFFIX
from pilot.model.resource import ConfigKey, Resource

Key = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class ObjectStatus:
    key: ConfigKey
    api_version: str
    status: dict[str, Any]
    current: dict[str, Any]  # what the object says now


class KnativeReconciler:
    def __init__(self, clock: Callable[[], float] = time.monotonic, domain: str = DEFAULT_DOMAIN_SUFFIX,
                 remember_ready: bool = True) -> None:
        self.clock = clock
        self.domain = domain
        self.remember_ready = remember_ready  # False: ready means "has ready pods now" (offline views)
        self.history = RevisionHistory()
        self._ever_ready: set[Key] = set()
        self._last_good: dict[Key, tuple[Split, ...]] = {}
        self._rollouts: dict[Key, rollout.Rollout] = {}
        self._derived: dict[ConfigKey, Resource] = {}
        self._routes: dict[Key, RouteState] = {}
        self._configs: dict[Key, ConfigState] = {}
        self.statuses: list[ObjectStatus] = []
        self.next_due = 0.0  # clock time of the next rollout step (0: none)

    def __call__(self, resources: Sequence[Resource]) -> tuple[list[Resource], set[ConfigKey]]:
        objects = read_objects(resources)
        if not (objects.configurations or objects.routes or objects.revisions or self._derived):
            return list(resources), set()
        existing = {r.key for r in resources}
        now = self.clock()
        self.history.observe(objects.configurations, objects.revisions)
        pods = _ready_pods(resources)
        ready_now = set(pods) | {(o.namespace, o.name) for o in objects.revisions if o.ready}
        self._ever_ready = (self._ever_ready | ready_now) if self.remember_ready else ready_now
        derived: list[Resource] = []
        for rev in self.history.all():
            if ConfigKey("Service", rev.namespace, rev.name) not in existing:
                derived += revision_resources(RevisionPods(rev, pods.get((rev.namespace, rev.name), ())))
        self._configs = {(c.namespace, c.name): self._config_state(c.namespace, c.name)
                         for c in objects.configurations}
        self._configs.update({(r.namespace, r.configuration): self._config_state(r.namespace, r.configuration)
                              for r in objects.revisions if r.configuration})
        self.next_due = 0.0
        self._routes = {}
        for route in objects.routes:
            splits = self._program(route, now)
            if splits:
                derived += [r for r in route_resources(route, splits, self.domain) if r.key not in existing]
        self._forget_gone(objects)
        new = {r.key: r for r in derived}
        changed = {k for k in set(new) | set(self._derived)
                   if k not in new or k not in self._derived or new[k].body != self._derived[k].body}
        self._derived = new
        self.statuses = self._statuses(resources)
        return [*resources, *derived], changed

    # ---- routes ----------------------------------------------------------------------------------
    def _program(self, route: RouteSpec, now: float) -> tuple[Split, ...]:
        key = (route.namespace, route.name)
        resolution = resolve(route, self._latest_ready, self._revision_ready)
        if resolution.ok:
            self._last_good[key] = resolution.splits
        wanted = self._last_good.get(key, ())
        cur = rollout.build(wanted)
        if route.rollout_seconds > 0:
            effective, _ = rollout.step(cur, self._rollouts.get(key), now)
            effective = rollout.observe_ready(effective, now, route.rollout_seconds)
        else:
            effective = cur
        self._rollouts[key] = effective
        due = [c.step.next_step for c in effective if not c.done and c.step.next_step > 0]
        if due:
            self.next_due = min([self.next_due, *due]) if self.next_due else min(due)
        splits = rollout.apply(wanted, effective)
        self._routes[key] = RouteState(route.name, route.namespace, splits, resolution,
                                       rolling=any(not c.done for c in effective), domain=self.domain)
        return splits

    def _latest_ready(self, namespace: str, configuration: str) -> str | None:
        history = self.history.of(namespace, configuration)
        if not history:
            raise KeyError(configuration)
        return next((r.name for r in reversed(history) if (namespace, r.name) in self._ever_ready), None)

    def _revision_ready(self, namespace: str, name: str) -> bool | None:
        if self.history.find(namespace, name) is None:
            return None
        return (namespace, name) in self._ever_ready

    def _config_state(self, namespace: str, name: str) -> ConfigState:
        latest = self.history.latest_created(namespace, name)
        try:
            ready = self._latest_ready(namespace, name) or ""
        except KeyError:
            ready = ""
        return ConfigState(latest.name if latest else "", ready)

    def _forget_gone(self, objects: KnativeObjects) -> None:
        routes = {(r.namespace, r.name) for r in objects.routes}
        for store in (self._last_good, self._rollouts):
            for key in set(store) - routes:
                del store[key]
        revisions = {(r.namespace, r.name) for r in self.history.all()}
        self._ever_ready &= revisions

    # ---- status ----------------------------------------------------------------------------------
    def _statuses(self, resources: Sequence[Resource]) -> list[ObjectStatus]:
        out = []
        for res in resources:
            key = (res.namespace, res.name)
            if res.kind == KIND_SERVICE and key in self._routes:
                generation = int((res.body.get("metadata") or {}).get("generation") or 0)
                status = service_status(self._configs.get(key, ConfigState()), self._routes[key], generation)
            elif res.kind == KIND_ROUTE and key in self._routes:
                status = route_status(self._routes[key])
            elif res.kind == KIND_CONFIGURATION and key in self._configs:
                status = configuration_status(self._configs[key])
            else:
                continue
            out.append(ObjectStatus(res.key, res.api_version, status, dict(res.status or {})))
        return out

    def status_of(self, key: ConfigKey) -> dict[str, Any] | None:
        return next((s.status for s in self.statuses if s.key == key), None)


def _ready_pods(resources: Sequence[Resource]) -> dict[Key, tuple[str, ...]]:
    out: dict[Key, list[str]] = {}
    for res in resources:
        if res.kind == "Pod" and LABEL_REVISION in res.labels and pod_is_ready(res):
            out.setdefault((res.namespace, res.labels[LABEL_REVISION]), []).append(str(res.status["podIP"]))
    return {k: tuple(sorted(v)) for k, v in out.items()}


def report(reconciler: KnativeReconciler) -> dict[str, Any]:
    """What `pilot knative status` shows: every object's status and every revision known."""
    ready = reconciler._ever_ready
    return {
        "objects": [{"kind": s.key.kind, "namespace": s.key.namespace, "name": s.key.name, "status": s.status}
                    for s in sorted(reconciler.statuses, key=lambda s: s.key)],
        "revisions": [{"namespace": r.namespace, "name": r.name, "configuration": r.configuration,
                       "generation": r.generation, "port": r.port, "ready": (r.namespace, r.name) in ready}
                      for r in reconciler.history.all()],
    }
