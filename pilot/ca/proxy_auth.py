"""One call for the xDS server: authenticate a proxy's stream from its metadata and node id.

Mirrors istiod's order (pilot/pkg/xds/ads.go then auth.go): authenticate the credential, then require that
it matches what the node claims; the registry, not the proxy, says which service account a pod runs as.
Refuse the stream on any failure (gRPC UNAUTHENTICATED / PERMISSION_DENIED), log the reason server-side,
and count it by ``CredentialError.reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pilot.ca.tokens import (
    CredentialError,
    TokenClaims,
    TokenIssuer,
    check_node_credential,
    token_from_metadata,
)

# (namespace, pod name) -> the pod's service account, or None when the registry has no such pod.
ServiceAccountLookup = Callable[[str, str], str | None]


def authenticate_proxy(
    issuer: TokenIssuer,
    metadata: Iterable[tuple[str, str | bytes]] | None,
    *,
    node_ns: str,
    node_pod: str,
    lookup_sa: ServiceAccountLookup,
) -> TokenClaims:
    """The verified claims of the stream's credential, or CredentialError; the claims are the only identity
    a secret may be served for."""
    claims = issuer.verify(token_from_metadata(metadata))
    refusal = check_node_credential(claims, node_ns, node_pod, lookup_sa(node_ns, node_pod))
    if refusal is not None:
        raise CredentialError(
            refusal, f"token for {claims.ns}/{claims.pod} used by node {node_ns}/{node_pod}"
        )
    return claims
