"""ADS over TLS (`pilot serve --xds-tls`): the control plane's serving certificate comes from the mesh CA.

Workload private keys travel in SDS `default` over the ADS stream, so across hosts that stream must be
encrypted. The control plane takes the SPIFFE identity `ns/istio-system/sa/meshpilot` (Istio's istiod
serves xDS on 15012 with a CA-issued certificate in the same way); a sidecar's bootstrap trusts the mesh
root from a file and accepts only that identity, so no workload certificate can pose as the control plane.
The certificate is renewed at half-life: gRPC asks for the current one on each new connection.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import grpc

from pilot.ca.authority import CertificateAuthority, utc_now
from pilot.ca.identity import spiffe_id

log = logging.getLogger(__name__)

CONTROL_PLANE_NAMESPACE = "istio-system"
CONTROL_PLANE_SERVICE_ACCOUNT = "meshpilot"
SERVING_TTL_S = 86400


def control_plane_spiffe_id(trust_domain: str) -> str:
    return spiffe_id(trust_domain, CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_SERVICE_ACCOUNT)


class ServingCertificate:
    """The control plane's own certificate; thread-safe, since gRPC fetches it from its own threads."""

    def __init__(self, ca: CertificateAuthority, ttl_s: int = SERVING_TTL_S) -> None:
        self._ca = ca
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._renew_at: datetime | None = None
        self._config = self._issue()

    def _issue(self) -> grpc.ServerCertificateConfiguration:
        now = utc_now()
        cert = self._ca.issue_workload(CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_SERVICE_ACCOUNT,
                                       ttl_s=self._ttl_s, now=now)
        self._renew_at = now + (cert.not_after - now) / 2
        log.info("xDS serving certificate %s valid until %s", cert.spiffe_id, cert.not_after)
        return grpc.ssl_server_certificate_configuration([(cert.key_pem, cert.cert_chain_pem)])

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration once past half-life, else None (gRPC keeps the current one)."""
        with self._lock:
            if self._renew_at is not None and utc_now() >= self._renew_at:
                self._config = self._issue()
                return self._config
        return None

    def credentials(self) -> grpc.ServerCredentials:
        # Client certificates are not asked for: proxies authenticate with their bearer token.
        return grpc.dynamic_ssl_server_credentials(self._config, self.fetch,
                                                   require_client_authentication=False)
