"""Per-snapshot indexes behind the scope lookups in scope.py: DestinationRules by host and Sidecars by
namespace and label. Each is built once per snapshot (kept in its memo) and answers exactly what the
plain scan over every resource would, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot

T = TypeVar("T")


def memoised(snapshot: MeshSnapshot, key: tuple[object, ...], build: Callable[[], T]) -> T:
    memo = snapshot.memo
    if key not in memo:
        memo[key] = build()
    return memo[key]  # type: ignore[no-any-return]


class DestinationRuleIndex:
    """DestinationRules by resolved host: exact hosts in a dict, wildcard hosts in a list, each DR
    with its position in the snapshot's precedence order so candidates come back in that order."""

    def __init__(self, snapshot: MeshSnapshot, resolve: Callable[[str, str, str], str]) -> None:
        suffix = snapshot.mesh.domain_suffix
        self.exact: dict[str, list[tuple[int, Resource]]] = {}
        self.wildcard: list[tuple[str, int, Resource]] = []
        self.any_selector = False
        for pos, dr in enumerate(snapshot.of_kind("DestinationRule")):
            host = resolve(str(dr.spec.get("host", "")), dr.namespace, suffix)
            self.any_selector = self.any_selector or bool(dr.spec.get("workloadSelector"))
            if host.startswith("*"):
                self.wildcard.append((host, pos, dr))
            else:
                self.exact.setdefault(host, []).append((pos, dr))

    def candidates(self, hostname: str, matches: Callable[[str, str], bool]) -> list[Resource]:
        """Rules whose host matches `hostname`, in precedence order."""
        found = list(self.exact.get(hostname, ()))
        found += [(pos, dr) for host, pos, dr in self.wildcard if matches(host, hostname)]
        if len(found) > 1:
            found.sort(key=lambda t: t[0])
        return [dr for _, dr in found]


class SidecarIndex:
    """Sidecars per namespace: those with a workload selector (indexed by each selector label, plus the
    ones whose selector has no labels and so selects every workload), then the namespace-wide ones."""

    def __init__(self, snapshot: MeshSnapshot) -> None:
        self.by_label: dict[tuple[str, str, str], list[tuple[int, Resource, dict[str, str]]]] = {}
        self.select_all: dict[str, list[tuple[int, Resource]]] = {}
        self.namespace_wide: dict[str, Resource] = {}
        for pos, sc in enumerate(snapshot.of_kind("Sidecar")):
            selector = sc.spec.get("workloadSelector")
            if not selector:
                self.namespace_wide.setdefault(sc.namespace, sc)
                continue
            labels = {str(k): v for k, v in (selector.get("labels") or {}).items()}
            if not labels:
                self.select_all.setdefault(sc.namespace, []).append((pos, sc))
                continue
            for k, v in labels.items():
                self.by_label.setdefault((sc.namespace, k, str(v)), []).append((pos, sc, labels))

    def selecting(self, namespace: str, labels: dict[str, str]) -> Resource | None:
        """The oldest Sidecar of `namespace` whose workload selector matches `labels`."""
        best: tuple[int, Resource] | None = None
        for pos, sc in self.select_all.get(namespace, ()):
            best = (pos, sc)
            break
        for k, v in labels.items():
            for pos, sc, selector in self.by_label.get((namespace, k, v), ()):
                if (best is None or pos < best[0]) and all(labels.get(a) == b for a, b in selector.items()):
                    best = (pos, sc)
                    break  # later entries of this list are younger
        return best[1] if best else None
