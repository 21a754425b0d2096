"""Which names a client asked for, with the legacy wildcard rule for Listener and Cluster.

https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#how-the-client-specifies-what-resources-to-return
Until a client sends a non-empty name list for a wildcard type, an empty list means "everything";
after that only an explicit `*` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pilot.xds.types import WILDCARD, WILDCARD_TYPES


@dataclass(slots=True)
class Subscription:
    type_url: str
    names: set[str] = field(default_factory=set)
    wildcard: bool = False
    explicit_seen: bool = False

    def wants(self, name: str) -> bool:
        return self.wildcard or name in self.names

    def replace(self, names: Iterable[str]) -> None:
        """SotW: each request lists every wanted name."""
        requested = set(names)
        if requested:
            self.explicit_seen = True
        wildcard_capable = self.type_url in WILDCARD_TYPES
        self.wildcard = wildcard_capable and (WILDCARD in requested or not self.explicit_seen)
        self.names = requested - {WILDCARD} if wildcard_capable else requested

    def subscribe(self, names: Iterable[str], *, first: bool) -> None:
        """Delta: add names (`*` turns wildcard on; an empty first request is the legacy wildcard)."""
        requested = set(names)
        wildcard_capable = self.type_url in WILDCARD_TYPES
        if first and not requested and wildcard_capable:
            self.wildcard = True
        if requested:
            self.explicit_seen = True
        if wildcard_capable and WILDCARD in requested:
            self.wildcard = True
        self.names |= requested - {WILDCARD} if wildcard_capable else requested

    def unsubscribe(self, names: Iterable[str]) -> None:
        for name in names:
            if name == WILDCARD and self.type_url in WILDCARD_TYPES:
                self.wildcard = False
            else:
                self.names.discard(name)
