"""Fixtures: the fake API server, a real `kubernetes` client for it, and a kube source on a store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from pilot.model.resource import ConfigKey
from pilot.sources.kube import KubeOptions, KubeSource, ReflectorOptions
from pilot.sources.store import ConfigStore
from pilot.testing.kube_apiserver import FakeKubeApiServer

FAST = ReflectorOptions(page_size=500, watch_timeout=30, initial_backoff=0.05, max_backoff=0.5,
                        missing_retry=0.2)


def wait_for(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.005) -> float:
    """Poll until `predicate()` is truthy; returns the seconds it took, fails the test on timeout."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - start


class Recorder:
    """Every set of keys the store reports as changed, in order."""

    def __init__(self, store: ConfigStore) -> None:
        self.changes: list[ConfigKey] = []
        self._lock = threading.Lock()
        store.subscribe(self._on_change)

    def _on_change(self, keys: set[ConfigKey]) -> None:
        with self._lock:
            self.changes.extend(sorted(keys))

    def count(self, key: ConfigKey) -> int:
        with self._lock:
            return self.changes.count(key)

    def clear(self) -> None:
        with self._lock:
            self.changes.clear()


@pytest.fixture
def api() -> Iterator[FakeKubeApiServer]:
    with FakeKubeApiServer(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def kubeconfig(api: FakeKubeApiServer, tmp_path: Path) -> Path:
    return api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture
def store() -> ConfigStore:
    return ConfigStore()


@pytest.fixture
def start_source(kube: client.ApiClient, store: ConfigStore) -> Iterator[Callable[..., KubeSource]]:
    started: list[KubeSource] = []

    def start(kinds: tuple[str, ...] | None = None, namespaces: tuple[str, ...] = (),
              options: ReflectorOptions = FAST, sync: bool = True) -> KubeSource:
        opts = KubeOptions(namespaces=namespaces, reflector=options,
                           **({"kinds": kinds} if kinds is not None else {}))
        src = KubeSource(store, kube, opts)
        src.start()
        started.append(src)
        if sync:
            assert src.wait_synced(10), src.problems()
        return src

    yield start
    for src in started:
        src.stop()
