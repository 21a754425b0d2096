"""Composition of the security pieces for `pilot serve --ca-dir DIR`.

`MeshSecurity.create(options, trust_domain)` loads (or creates) the CA and the token key in the CA dir;
`install(controller)` returns the xDS hooks to use and adds the SDS source to the controller;
`start()` / `stop()` run the rotation task; `metrics_lines()` feeds `/metrics`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from pilot.ca.authority import DEFAULT_WORKLOAD_TTL_S, CertificateAuthority
from pilot.ca.rotation import CertStore
from pilot.ca.tokens import TokenIssuer
from pilot.push import MeshController
from pilot.security.counters import SecurityCounters
from pilot.security.gate import ProxyGate
from pilot.security.rotation_loop import RotationLoop
from pilot.security.sds import WorkloadSecretSource
from pilot.security.xds_tls import ServingCertificate
from pilot.xds.server import XdsHooks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecurityOptions:
    ca_dir: Path
    cert_ttl_s: int = DEFAULT_WORKLOAD_TTL_S
    require_credentials: bool = True
    xds_tls: bool = False  # serve ADS over TLS with a CA-issued certificate


class MeshSecurity:
    def __init__(self, options: SecurityOptions, ca: CertificateAuthority, issuer: TokenIssuer) -> None:
        self.options = options
        self.ca = ca
        self.issuer = issuer
        self.counters = SecurityCounters()
        self.certs = CertStore(ca, ttl_s=options.cert_ttl_s)
        self.gate: ProxyGate | None = None
        self.secrets: WorkloadSecretSource | None = None
        self.rotation: RotationLoop | None = None

    @classmethod
    def create(cls, options: SecurityOptions, trust_domain: str) -> MeshSecurity:
        ca = CertificateAuthority.load_or_create(options.ca_dir, trust_domain)
        issuer = TokenIssuer.load_or_create(options.ca_dir)
        if not options.require_credentials:
            log.warning("proxy credentials are NOT required: any client may ask for any pod's certificate")
        return cls(options, ca, issuer)

    def install(self, controller: MeshController) -> XdsHooks:
        """Authenticate streams, serve secrets for verified identities, and re-push renewed ones."""
        self.gate = ProxyGate(self.issuer, lambda: controller.snapshot, self.counters,
                              require_credentials=self.options.require_credentials)
        self.secrets = WorkloadSecretSource(self.gate, self.certs, self.ca.root_pem, self.counters)
        controller.extra_resources.append(self.secrets)

        def refresh(node_ids: list[str]) -> None:
            snap = controller.snapshot
            for node_id in node_ids:
                node = controller.nodes.get(node_id)
                if snap is not None and node is not None:
                    _view, resources = controller.resources_for(snap, node)
                    controller.cache.set_node_resources(node_id, resources)

        self.rotation = RotationLoop(self.certs, self.gate, refresh, self.counters)
        on_connect, on_disconnect = self.gate.wrap(controller.on_connect, controller.on_disconnect)
        return XdsHooks(on_connect=on_connect, on_disconnect=on_disconnect,
                        on_request=self.secrets.check_request)

    def xds_credentials(self) -> grpc.ServerCredentials | None:
        """TLS credentials for the ADS port when `xds_tls` is on, else None (plaintext)."""
        if not self.options.xds_tls:
            return None
        return ServingCertificate(self.ca).credentials()

    def start(self) -> None:
        if self.rotation is not None:
            self.rotation.start()

    async def stop(self) -> None:
        if self.rotation is not None:
            await self.rotation.stop()

    def metrics_lines(self) -> list[str]:
        return self.counters.prometheus_lines()


def install_security(controller: MeshController,
                     options: SecurityOptions | None) -> tuple[MeshSecurity | None, XdsHooks | None]:
    """Security for a control plane: authorization and DestinationRule TLS always; with `options` (a CA
    dir) also mTLS, SDS and proxy credentials. Returns the security (to start/stop) and the xDS hooks to
    use instead of the controller's own (None: use them as they are)."""
    # Security is part of translation (generate() applies it); the mesh config says whether a CA exists.
    controller.mesh = replace(controller.mesh, workload_mtls=options is not None)
    if options is None:
        return None, None
    security = MeshSecurity.create(options, controller.mesh.trust_domain)
    return security, security.install(controller)
