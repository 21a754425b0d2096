"""Istio analyzer codes and message templates (istio/istio pkg/config/analysis/msg/messages.yaml),
so findings read like `istioctl analyze` output.
"""

from __future__ import annotations

from pilot.model.findings import Finding, Severity
from pilot.model.resource import Resource

REFERENCED_RESOURCE_NOT_FOUND = ("IST0101", Severity.ERROR, "Referenced {} not found: {!r}")
CONFLICTING_MESH_GATEWAY_HOSTS = ("IST0109", Severity.ERROR,
                                  "The VirtualServices {} associated with mesh gateway define the same host {} "
                                  "which can lead to undefined behavior. This can be fixed by merging the "
                                  "conflicting VirtualServices into a single resource.")
CONFLICTING_SIDECAR_SELECTORS = ("IST0110", Severity.ERROR,
                                 "The Sidecars {} in namespace {!r} select the same workload pod {!r}, which can "
                                 "lead to undefined behavior.")
MULTIPLE_SIDECARS_WITHOUT_SELECTOR = ("IST0111", Severity.ERROR,
                                      "The Sidecars {} in namespace {!r} have no workload selector, which can "
                                      "lead to undefined behavior.")
PORT_NAME_CONVENTION = ("IST0118", Severity.INFO,
                        "Port name {} (port: {}, targetPort: {}) doesn't follow the naming convention of Istio port.")
NO_MATCHING_WORKLOADS = ("IST0127", Severity.WARNING,
                         "No matching workloads for this resource with the following labels: {}")
JWT_CLAIM_ROUTING_WITHOUT_REQUEST_AUTHN = (
    "IST0149", Severity.ERROR,
    "The virtual service uses the JWT claim based routing (key: {}) but found no request authentication for the "
    "gateway ({}) pod ({}). The request authentication must first be applied for the gateway pods to validate the "
    "JWT token and make the claims available for routing.")
UNREACHABLE_RULE = ("IST0130", Severity.WARNING, "VirtualService rule {} not used ({}).")
INEFFECTIVE_MATCH = ("IST0131", Severity.INFO,
                     "VirtualService rule {} match {} is not used (duplicate/overlapping match in rule {}).")
SUBSET_SELECTS_NO_PODS = ("IST0173", Severity.WARNING,
                          "The Subset {} defined in the DestinationRule does not select any pods, which may lead "
                          "to 503 UH (NoHealthyUpstream).")
DR_HOST_NOT_FOUND = ("IST0174", Severity.WARNING,
                     "The host {} defined in the DestinationRule does not match any services in the mesh.")

Message = tuple[str, Severity, str]


def report(msg: Message, resource: Resource, field: str, *args: object) -> Finding:
    code, severity, template = msg
    # Istio formats with Go's %q: double quotes, which Python's !r would render as single quotes.
    text = template.format(*args).replace("'", '"')
    return Finding.about(resource, field, text, code=code, severity=severity)


def labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
