"""Mesh-wide settings (a subset of Istio's MeshConfig) that translation and validation read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pilot.model.providers import TelemetryProviders


@dataclass(frozen=True)
class MeshConfig:
    root_namespace: str = "istio-system"
    trust_domain: str = "cluster.local"
    domain_suffix: str = "svc.cluster.local"
    # Istio's default: 10 s connect timeout for outbound clusters.
    connect_timeout_s: float = 10.0
    outbound_traffic_policy: str = "ALLOW_ANY"
    # True when the control plane runs a CA (`pilot serve --ca-dir`): sidecars then get workload
    # certificates, so PeerAuthentication and auto-mTLS apply. Without it traffic stays plaintext.
    workload_mtls: bool = False
    # host:port of meshpilot's rate limit service (envoy.service.ratelimit.v3), for global limits.
    # `pilot serve` fills it in with the address it serves on; "" means no global rate limiting.
    rate_limit_service: str = ""
    # extensionProviders + defaultProviders (providers.py). Left out of repr, so snapshot versions of
    # meshes without them stay what they were; content_hash adds it when set.
    telemetry: TelemetryProviders = field(default_factory=TelemetryProviders, repr=False)
    # Where iptables send a captured pod's outbound / inbound traffic (Istio's proxyListenPort and
    # proxyInboundListenPort). Out of repr like telemetry; content_hash adds them when not the default.
    proxy_listen_port: int = field(default=15001, repr=False)
    proxy_inbound_listen_port: int = field(default=15006, repr=False)

    @property
    def capture_ports(self) -> tuple[int, int]:
        return self.proxy_listen_port, self.proxy_inbound_listen_port

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> MeshConfig:
        data = data or {}
        otp = (data.get("outboundTrafficPolicy") or {}).get("mode", "ALLOW_ANY")
        return cls(
            root_namespace=str(data.get("rootNamespace", "istio-system")),
            trust_domain=str(data.get("trustDomain", "cluster.local")),
            outbound_traffic_policy=str(otp),
            rate_limit_service=str(data.get("rateLimitService", "")),
            telemetry=TelemetryProviders.from_dict(data),
            proxy_listen_port=int(data.get("proxyListenPort", 15001)),
            proxy_inbound_listen_port=int(data.get("proxyInboundListenPort", 15006)),
        )
