"""The ACK gate: wait until every connected node that holds some resources has ACKed them as they are now.

Used for the positive hand-off before a Knative revision scales to zero (knative-notes.md §3): its
ClusterLoadAssignments are pointed at the activator, and the last pod may only go once every proxy
that can send to it has *applied* that assignment (Knative probes the network for the same reason).

Versions are per node and type (a hash over all the node's resources of that type, cache.py), so a
node is done when it ACKs any version of the type that carried the wanted resource versions: a later
push that changed other clusters still counts. A node that disconnects stops blocking: when it comes
back it is given the current config, which already holds the new assignments. A node that stays
connected and never ACKs blocks until the timeout; the caller decides what a timeout means.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pilot.xds.cache import ResourceCache

# node id -> resource name -> the resource version that node must have applied
Targets = dict[str, dict[str, str]]


@dataclass(frozen=True)
class AckResult:
    ok: bool
    waited: float
    pending: tuple[str, ...] = ()  # nodes still not ACKed when the wait ended
    disconnected: tuple[str, ...] = ()  # nodes that left during the wait (they no longer block)


class AckGate:
    def __init__(self, cache: ResourceCache, acked: Callable[[str, str], str],
                 connected: Callable[[], Iterable[str]], poll_seconds: float = 0.02) -> None:
        self._cache = cache
        self._acked = acked  # (node id, type URL) -> the version the node last ACKed
        self._connected = connected
        self._poll = poll_seconds

    def targets(self, type_url: str, names: Iterable[str]) -> Targets:
        """What every connected node holds of `names` now (call it right after the push)."""
        wanted = set(names)
        out: Targets = {}
        for node_id in self._connected():
            node = self._cache.get(node_id)
            if node is None:
                continue
            held = {n: r.version for n, r in node.of(type_url).resources.items() if n in wanted}
            if held:
                out[node_id] = held
        return out

    async def wait(self, type_url: str, targets: Targets, timeout: float) -> AckResult:
        start = time.monotonic()
        pending = {node: dict(want) for node, want in targets.items()}
        acceptable: dict[str, set[str]] = {node: set() for node in pending}
        gone: list[str] = []
        while True:
            connected = set(self._connected())
            for node_id, want in list(pending.items()):
                if node_id not in connected:
                    del pending[node_id]
                    gone.append(node_id)
                elif self._done(node_id, type_url, want, acceptable[node_id]):
                    del pending[node_id]
            waited = time.monotonic() - start
            if not pending:
                return AckResult(True, waited, disconnected=tuple(gone))
            if waited >= timeout:
                return AckResult(False, waited, tuple(sorted(pending)), tuple(gone))
            await asyncio.sleep(self._poll)

    def _done(self, node_id: str, type_url: str, want: Mapping[str, str], acceptable: set[str]) -> bool:
        node = self._cache.get(node_id)
        if node is None:
            return False
        current = node.of(type_url)
        if all((r := current.resources.get(n)) is not None and r.version == v for n, v in want.items()):
            acceptable.add(current.version)
        return self._acked(node_id, type_url) in acceptable
