"""Which validator checks which kind, and from which part of the document its paths start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pilot.validation import knative, kubernetes
from pilot.validation.authentication import validate_peer_authentication, validate_request_authentication
from pilot.validation.authorization import validate_authorization_policy
from pilot.validation.destinationrule import validate_destination_rule
from pilot.validation.envoyfilter import validate_envoy_filter
from pilot.validation.gateway import validate_gateway
from pilot.validation.node import Node, Report
from pilot.validation.ratelimit import validate_rate_limit_policy
from pilot.validation.serviceentry import validate_service_entry, validate_workload_entry
from pilot.validation.sidecar import validate_sidecar
from pilot.validation.virtualservice import validate_virtual_service

Validator = Callable[[Report, Node], None]


@dataclass(frozen=True)
class KindValidator:
    check: Validator
    root: str  # "spec": paths start at spec; "body": at the document root (Kubernetes kinds)


VALIDATORS: dict[str, KindValidator] = {
    "VirtualService": KindValidator(validate_virtual_service, "spec"),
    "DestinationRule": KindValidator(validate_destination_rule, "spec"),
    "Sidecar": KindValidator(validate_sidecar, "spec"),
    "Gateway": KindValidator(validate_gateway, "spec"),
    "ServiceEntry": KindValidator(validate_service_entry, "spec"),
    "WorkloadEntry": KindValidator(validate_workload_entry, "spec"),
    "EnvoyFilter": KindValidator(validate_envoy_filter, "spec"),
    "PeerAuthentication": KindValidator(validate_peer_authentication, "spec"),
    "AuthorizationPolicy": KindValidator(validate_authorization_policy, "spec"),
    "RequestAuthentication": KindValidator(validate_request_authentication, "spec"),
    "RateLimitPolicy": KindValidator(validate_rate_limit_policy, "spec"),
    "Service": KindValidator(kubernetes.validate_service, "spec"),
    "Pod": KindValidator(kubernetes.validate_pod, "body"),
    "EndpointSlice": KindValidator(kubernetes.validate_endpoint_slice, "body"),
    "Namespace": KindValidator(kubernetes.validate_namespace, "body"),
    "Secret": KindValidator(kubernetes.validate_secret, "body"),
    "KnativeService": KindValidator(knative.validate_knative_service, "body"),
    "KnativeConfiguration": KindValidator(knative.validate_knative_configuration, "body"),
    "KnativeRoute": KindValidator(knative.validate_knative_route, "body"),
    "KnativeRevision": KindValidator(knative.validate_knative_revision, "body"),
}
