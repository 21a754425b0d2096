"""Knative revisions and their endpoint mode: SERVE (the ready pods) or PROXY (the activator).

A revision `{rev}` in namespace `{ns}` is served through the Service `{rev}.{ns}` labelled
`serving.knative.dev/revision: {rev}` (Knative's public SKS Service, whose endpoints are written for
it: pilot/knative derives an EndpointSlice of the ready pods), or whose selector picks the pods with
that label (a hand-written stand-in). The `-private` Service is left alone. Scaling never changes
routes, only that Service's endpoints (knative-notes.md §3):

- no ready pods -> the activator's address (never an empty ClusterLoadAssignment: Envoy answers 503 at
  once and a weighted split does not fall over to another cluster);
- a revision the scaler forces into PROXY (handing off before scale-to-zero, or cold) -> the activator;
- otherwise -> the ready pods.

`RevisionModes` is an input of the snapshot like the config itself, so translation stays pure: the
snapshot's endpoints already hold the activator where a revision is in PROXY mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pilot.model.registry import Endpoint, Service

REVISION_LABEL = "serving.knative.dev/revision"
# Push-plan key kind for a mode change (it changes endpoints only, like a Pod): ConfigKey(kind, ns, rev).
REVISION_MODE_KIND = "KnativeRevisionMode"


class Mode(StrEnum):
    SERVE = "SERVE"
    PROXY = "PROXY"


@dataclass(frozen=True)
class RevisionModes:
    """What the activator side decided: where it listens and which revisions it must front even though
    they have ready pods (scaling to zero)."""

    activator: tuple[str, int] | None = None
    proxied: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Revision:
    namespace: str
    name: str
    hostname: str
    mode: Mode
    # service port -> the ready pod endpoints (what the activator forwards to), whatever the mode
    pods: Mapping[int, tuple[Endpoint, ...]] = field(default_factory=dict, compare=False, hash=False)

    def ready_pods(self) -> tuple[Endpoint, ...]:
        """Distinct ready pod addresses over all ports, first port first."""
        seen: dict[tuple[str, int], Endpoint] = {}
        for port in sorted(self.pods):
            for ep in self.pods[port]:
                seen.setdefault((ep.address, ep.port), ep)
        return tuple(seen.values())


def revision_of(svc: Service) -> tuple[str, str] | None:
    """(namespace, revision) when `svc` is a revision's public Service."""
    rev = svc.labels.get(REVISION_LABEL) or svc.selector.get(REVISION_LABEL)
    return (svc.namespace, rev) if rev and rev == svc.name else None


def apply_revision_modes(services: Mapping[str, Service],
                         endpoints: Mapping[tuple[str, int], tuple[Endpoint, ...]], modes: RevisionModes
                         ) -> tuple[dict[tuple[str, int], tuple[Endpoint, ...]], dict[tuple[str, str], Revision]]:
    """The endpoints with every PROXY revision pointing at the activator, and the revisions found."""
    out = dict(endpoints)
    revisions: dict[tuple[str, str], Revision] = {}
    for svc in services.values():
        key = revision_of(svc)
        if key is None:
            continue
        pods = {sp.port: tuple(e for e in endpoints.get((svc.hostname, sp.port), ()) if e.ready)
                for sp in svc.ports}
        proxy = modes.activator is not None and (key in modes.proxied or not any(pods.values()))
        revisions[key] = Revision(key[0], key[1], svc.hostname, Mode.PROXY if proxy else Mode.SERVE, pods)
        if proxy and modes.activator is not None:
            ip, port = modes.activator
            for sp in svc.ports:
                out[(svc.hostname, sp.port)] = (Endpoint(address=ip, port=port, namespace=svc.namespace),)
    return out, revisions
