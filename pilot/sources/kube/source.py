"""The Kubernetes config source: one reflector thread per kind (and namespace) feeding a ConfigStore."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from kubernetes.client import ApiClient

from pilot.model.kinds import KINDS
from pilot.sources.kube.reflector import Keep, Reflector, ReflectorOptions
from pilot.sources.store import ConfigStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KubeOptions:
    namespaces: tuple[str, ...] = ()  # empty: every namespace
    kinds: tuple[str, ...] = tuple(KINDS)
    reflector: ReflectorOptions = field(default_factory=ReflectorOptions)


@dataclass(frozen=True)
class WatchStatus:
    source_id: str
    kind: str
    namespace: str
    api_version: str
    synced: bool
    resource_version: str
    problem: str


class KubeSource:
    """`start()` lists and watches in background threads; `synced` is true once every watch listed.

    With `namespaces`, namespaced kinds are watched per namespace (so a namespaced Role suffices) and
    Namespaces are filtered to those names; without, everything is watched cluster-wide.
    """

    def __init__(self, store: ConfigStore, api: ApiClient, options: KubeOptions | None = None) -> None:
        self.store, self.api = store, api
        self.options = options or KubeOptions()
        wanted = set(self.options.namespaces)
        self.reflectors: list[Reflector] = []
        for kind in self.options.kinds:
            info = KINDS[kind]
            if kind == "Namespace" and wanted:
                self.reflectors.append(self._reflector(
                    kind, "", keep=lambda o: (o.get("metadata") or {}).get("name") in wanted))
            elif kind != "Namespace" and wanted:
                self.reflectors += [self._reflector(info.kind, ns) for ns in sorted(wanted)]
            else:
                self.reflectors.append(self._reflector(kind, ""))
        # Every watch holds a pooled connection; without room for all, urllib3 discards and reopens.
        api.configuration.connection_pool_maxsize = max(api.configuration.connection_pool_maxsize or 0,
                                                        len(self.reflectors) + 4)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _reflector(self, kind: str, namespace: str, keep: Keep | None = None) -> Reflector:
        return Reflector(self.api, KINDS[kind], namespace, self.store, self.options.reflector, keep)

    def start(self) -> None:
        self._stop.clear()
        for r in self.reflectors:
            t = threading.Thread(target=r.run, args=(self._stop,), daemon=True, name=f"kube:{r.source_id}")
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for r in self.reflectors:
            r.interrupt()
        for t in self._threads:
            t.join(timeout)
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("kube source: threads still running after stop: %s", ", ".join(alive))
        self._threads = []

    @property
    def synced(self) -> bool:
        return all(r.synced for r in self.reflectors)

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.synced and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.synced

    def problems(self) -> list[str]:
        return [f"{r.source_id}: {r.problem}" for r in self.reflectors if r.problem]

    def status(self) -> list[WatchStatus]:
        return [WatchStatus(r.source_id, r.info.kind, r.namespace, r.api_version, r.synced,
                            r.resource_version or "", r.problem) for r in self.reflectors]
