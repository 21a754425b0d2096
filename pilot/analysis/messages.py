"""Istio analyzer codes and message templates (istio/istio pkg/config/analysis/msg/messages.yaml),
so findings read like `istioctl analyze` output.
"""

from __future__ import annotations

import json
import string
from typing import Any

from pilot.model.findings import Finding, Severity
from pilot.model.resource import Resource

REFERENCED_RESOURCE_NOT_FOUND = ("IST0101", Severity.ERROR, "Referenced {} not found: {!r}")
GATEWAY_PORT_NOT_ON_WORKLOAD = ("IST0104", Severity.WARNING,
                                "The gateway refers to a port that is not exposed on the workload (pod selector {}; "
                                "port {})")
SCHEMA_VALIDATION_ERROR = ("IST0106", Severity.ERROR, "Schema validation error: {}")
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
DESTINATION_PORT_SELECTOR_REQUIRED = (
    "IST0112", Severity.ERROR,
    "This VirtualService routes to a service {!r} that exposes multiple ports {}. Specifying a port in the "
    "destination is required to disambiguate.")
MTLS_POLICY_CONFLICT = ("IST0113", Severity.ERROR,
                        "A DestinationRule and Policy are in conflict with regards to mTLS for host {}. The "
                        "DestinationRule {!r} specifies that mTLS must be {} but the Policy object {!r} specifies {}.")
PORT_NAME_CONVENTION = ("IST0118", Severity.INFO,
                        "Port name {} (port: {}, targetPort: {}) doesn't follow the naming convention of Istio port.")
NO_MATCHING_WORKLOADS = ("IST0127", Severity.WARNING,
                         "No matching workloads for this resource with the following labels: {}")
JWT_CLAIM_ROUTING_WITHOUT_REQUEST_AUTHN = (
    "IST0149", Severity.ERROR,
    "The virtual service uses the JWT claim based routing (key: {}) but found no request authentication for the "
    "gateway ({}) pod ({}). The request authentication must first be applied for the gateway pods to validate the "
    "JWT token and make the claims available for routing.")
NO_SERVER_CERT_VERIFICATION_DESTINATION = (
    "IST0128", Severity.WARNING,
    "DestinationRule {} in namespace {} has TLS mode set to {} but no caCertificates are set to validate server "
    "identity for host: {}")
NO_SERVER_CERT_VERIFICATION_PORT = (
    "IST0129", Severity.WARNING,
    "DestinationRule {} in namespace {} has TLS mode set to {} but no caCertificates are set to validate server "
    "identity for host: {} at port {}")
UNREACHABLE_RULE = ("IST0130", Severity.WARNING, "VirtualService rule {} not used ({}).")
INEFFECTIVE_MATCH = ("IST0131", Severity.INFO,
                     "VirtualService rule {} match {} is not used (duplicate/overlapping match in rule {}).")
VS_HOST_NOT_IN_GATEWAY = ("IST0132", Severity.WARNING,
                          "one or more host {} defined in VirtualService {} not found in Gateway {}.")
SCHEMA_WARNING = ("IST0133", Severity.WARNING, "Schema validation warning: {}")
CONFLICTING_GATEWAYS = ("IST0145", Severity.ERROR,
                        "Conflict with gateways {} (workload selector {}, port {}, hosts {}).")
EXTERNAL_NAME_INVALID_PORT_NAME = ("IST0150", Severity.WARNING,
                                   "Port name for ExternalName service is invalid. Proxy may prevent tcp named "
                                   "ports and unmatched traffic for ports serving TCP protocol from being "
                                   "forwarded correctly")
SUBSET_SELECTS_NO_PODS = ("IST0173", Severity.WARNING,
                          "The Subset {} defined in the DestinationRule does not select any pods, which may lead "
                          "to 503 UH (NoHealthyUpstream).")
DR_HOST_NOT_FOUND = ("IST0174", Severity.WARNING,
                     "The host {} defined in the DestinationRule does not match any services in the mesh.")

Message = tuple[str, Severity, str]


class _GoFormatter(string.Formatter):
    """`{!r}` renders like Go's %q (double quotes), the way Istio formats its messages; the rest of
    the template (e.g. the apostrophe in "doesn't") is left alone."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion == "r":
            return json.dumps(str(value))
        return super().convert_field(value, conversion)


_FORMATTER = _GoFormatter()


def message_text(msg: Message, *args: object) -> str:
    return _FORMATTER.format(msg[2], *args)


def report(msg: Message, resource: Resource, field: str, *args: object) -> Finding:
    code, severity, _ = msg
    return Finding.about(resource, field, message_text(msg, *args), code=code, severity=severity)


def labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
