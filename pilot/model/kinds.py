"""The kinds meshpilot understands, with the API groups and versions Istio and Kubernetes serve them in."""

from __future__ import annotations

from dataclasses import dataclass

NETWORKING = "networking.istio.io"
SECURITY = "security.istio.io"
MESHPILOT_POLICY = "policy.meshpilot.io"
SERVING = "serving.knative.dev"


@dataclass(frozen=True)
class KindInfo:
    kind: str
    group: str
    versions: tuple[str, ...]
    plural: str
    # The kind as the API names it, when meshpilot's own name differs: Knative's `Service` is
    # `KnativeService` here, so a Knative Service and a Kubernetes Service of one name never share a key.
    api_kind: str = ""

    @property
    def served_kind(self) -> str:
        return self.api_kind or self.kind

    def accepts(self, api_version: str) -> bool:
        group, _, version = api_version.rpartition("/")
        return group == self.group and version in self.versions


_NET_VERSIONS = ("v1", "v1beta1", "v1alpha3")
_SEC_VERSIONS = ("v1", "v1beta1")

KINDS: dict[str, KindInfo] = {
    k.kind: k
    for k in (
        KindInfo("Service", "", ("v1",), "services"),
        KindInfo("Pod", "", ("v1",), "pods"),
        KindInfo("Namespace", "", ("v1",), "namespaces"),
        KindInfo("Secret", "", ("v1",), "secrets"),
        KindInfo("EndpointSlice", "discovery.k8s.io", ("v1",), "endpointslices"),
        KindInfo("VirtualService", NETWORKING, _NET_VERSIONS, "virtualservices"),
        KindInfo("DestinationRule", NETWORKING, _NET_VERSIONS, "destinationrules"),
        KindInfo("Sidecar", NETWORKING, _NET_VERSIONS, "sidecars"),
        KindInfo("Gateway", NETWORKING, _NET_VERSIONS, "gateways"),
        KindInfo("ServiceEntry", NETWORKING, _NET_VERSIONS, "serviceentries"),
        KindInfo("WorkloadEntry", NETWORKING, _NET_VERSIONS, "workloadentries"),
        KindInfo("EnvoyFilter", NETWORKING, ("v1alpha3",), "envoyfilters"),
        KindInfo("PeerAuthentication", SECURITY, _SEC_VERSIONS, "peerauthentications"),
        KindInfo("AuthorizationPolicy", SECURITY, _SEC_VERSIONS, "authorizationpolicies"),
        KindInfo("RequestAuthentication", SECURITY, _SEC_VERSIONS, "requestauthentications"),
        KindInfo("RateLimitPolicy", MESHPILOT_POLICY, ("v1alpha1",), "ratelimitpolicies"),
        KindInfo("KnativeService", SERVING, ("v1",), "services", "Service"),
        KindInfo("KnativeConfiguration", SERVING, ("v1",), "configurations", "Configuration"),
        KindInfo("KnativeRoute", SERVING, ("v1",), "routes", "Route"),
        KindInfo("KnativeRevision", SERVING, ("v1",), "revisions", "Revision"),
    )
}

# Kinds that describe the registry (services and workloads) rather than mesh policy.
REGISTRY_KINDS = frozenset({"Service", "Pod", "Namespace", "EndpointSlice", "Secret", "ServiceEntry",
                            "WorkloadEntry"})


def kind_info(kind: str) -> KindInfo | None:
    return KINDS.get(kind)


_BY_API_KIND = {(info.group, info.served_kind): info.kind for info in KINDS.values() if info.api_kind}


def internal_kind(api_version: str, kind: str) -> str:
    """meshpilot's name for a kind as a document spells it (`serving.knative.dev/v1` `Service` is
    `KnativeService`); every other kind keeps its name."""
    return _BY_API_KIND.get((api_version.rpartition("/")[0], kind), kind)
