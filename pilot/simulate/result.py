"""What the simulator found, as plain data (JSON-ready)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ClusterChoice:
    name: str
    weight: int
    probability: float  # 0..1: weight / total weight of the route's clusters


@dataclass
class EndpointInfo:
    cluster: str
    address: str
    port: int
    healthy: bool
    pod: str = ""  # POD.NAMESPACE when a workload has that IP
    labels: dict[str, str] = field(default_factory=dict)
    tls: bool = False  # the client sidecar speaks (m)TLS to it


@dataclass
class Destination:
    """The server side of one destination pod: its inbound listener and authorization decision."""

    pod: str
    address: str
    port: int
    listener: str = ""
    filter_chain: str = ""
    route: str = ""
    cluster: str = ""
    principal: str = ""  # the client identity the server sees ("" without mTLS)
    allowed: bool = True
    policy: str = ""
    action: str = ""  # the RBAC action that decided: ALLOW | DENY
    error: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class SimulationResult:
    source: str
    request: dict[str, Any]
    listener: str = ""
    filter_chain: str = ""
    route_config: str = ""
    virtual_host: str = ""
    route: str = ""
    action: str = ""  # route | redirect | direct_response | tcp
    clusters: list[ClusterChoice] = field(default_factory=list)
    endpoints: list[EndpointInfo] = field(default_factory=list)
    destinations: list[Destination] = field(default_factory=list)
    allowed: bool | None = None  # None when the request never reached a destination
    policy: str = ""
    status: int | None = None  # the HTTP status the client should get (None: depends on the app)
    error: str = ""  # why the request fails, "" when it is routed
    details: dict[str, Any] = field(default_factory=dict)  # timeout, retries, fault, mirror, redirect...
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Routed to a destination and allowed there."""
        return not self.error and self.allowed is not False

    @property
    def destination_pods(self) -> list[str]:
        return sorted({d.pod for d in self.destinations if d.pod})

    def weights_by_subset(self) -> dict[str, float]:
        """Percent per subset (or whole cluster name when it has no subset)."""
        out: dict[str, float] = {}
        for c in self.clusters:
            parts = c.name.split("|")
            key = parts[2] if len(parts) == 4 and parts[2] else c.name
            out[key] = out.get(key, 0.0) + round(c.probability * 100, 4)
        return out

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["destination_pods"] = self.destination_pods
        return out
