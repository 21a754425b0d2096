"""Hand-written allowed-field trees, in the notation of scripts/gen_field_schemas.py, for what no Istio
CRD describes: object metadata, the Kubernetes kinds meshpilot reads, and meshpilot's RateLimitPolicy.

Kubernetes' own kinds keep growing fields from release to release (ServiceSpec gained
`trafficDistribution` in 1.30), and in kube mode their objects come from clusters newer than this
table. So their top level and metadata are strict, but a field unknown inside the parts meshpilot
reads (`"unknown": "warning"`) is reported and accepted, and the rest (containers, volumes, status
details) is open. Field lists: https://kubernetes.io/docs/reference/kubernetes-api/
"""

from __future__ import annotations

from typing import Any

from pilot.validation import knative_schema

LABELS: Any = {"values": "any"}  # label syntax is checked by the validators, with their own messages

OBJECT_META: Any = {"fields": {
    "annotations": {"values": "string"}, "creationTimestamp": "any", "deletionGracePeriodSeconds": "integer",
    "deletionTimestamp": "any", "finalizers": {"items": "string"}, "generateName": "string",
    "generation": "integer", "labels": LABELS, "managedFields": {"items": "any"}, "name": "string",
    "namespace": "string", "resourceVersion": "string", "selfLink": "string", "uid": "string",
    "ownerReferences": {"items": {"fields": {
        "apiVersion": "string", "blockOwnerDeletion": "boolean", "controller": "boolean", "kind": "string",
        "name": "string", "uid": "string"}}},
}}

ENVELOPE: Any = {"fields": {"apiVersion": "string", "kind": "string", "metadata": OBJECT_META}}
"""What the API server adds to every kind's own schema."""


def _lenient(fields: dict[str, Any]) -> dict[str, Any]:
    return {"fields": fields, "unknown": "warning"}


def _any_of(*names: str) -> dict[str, Any]:
    return _lenient(dict.fromkeys(names, "any"))


SERVICE_PORT = _lenient({"appProtocol": "string", "name": "string", "nodePort": "integer", "port": "integer",
                         "protocol": "string", "targetPort": "int-or-string"})
SERVICE_SPEC = _lenient({
    "allocateLoadBalancerNodePorts": "boolean", "clusterIP": "string", "clusterIPs": {"items": "string"},
    "externalIPs": {"items": "string"}, "externalName": "string", "externalTrafficPolicy": "string",
    "healthCheckNodePort": "integer", "internalTrafficPolicy": "string", "ipFamilies": {"items": "string"},
    "ipFamilyPolicy": "string", "loadBalancerClass": "string", "loadBalancerIP": "string",
    "loadBalancerSourceRanges": {"items": "string"}, "ports": {"items": SERVICE_PORT},
    "publishNotReadyAddresses": "boolean", "selector": LABELS, "sessionAffinity": "string",
    "sessionAffinityConfig": "any", "trafficDistribution": "string", "type": "string",
})
POD_SPEC = _any_of(
    "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "containers", "dnsConfig", "dnsPolicy",
    "enableServiceLinks", "ephemeralContainers", "hostAliases", "hostIPC", "hostNetwork", "hostPID",
    "hostUsers", "hostname", "hostnameOverride", "imagePullSecrets", "initContainers", "nodeName",
    "nodeSelector", "os", "overhead", "preemptionPolicy", "priority", "priorityClassName", "readinessGates",
    "resourceClaims", "resources", "restartPolicy", "runtimeClassName", "schedulerName", "schedulingGates",
    "securityContext", "serviceAccount", "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace",
    "subdomain", "terminationGracePeriodSeconds", "tolerations", "topologySpreadConstraints", "volumes")
POD_STATUS = _lenient({
    **_any_of("conditions", "containerStatuses", "ephemeralContainerStatuses", "hostIP", "hostIPs",
              "initContainerStatuses", "message", "nominatedNodeName", "observedGeneration", "phase",
              "qosClass", "reason", "resize", "resourceClaimStatuses", "startTime")["fields"],
    "podIP": "string", "podIPs": {"items": _lenient({"ip": "string"})},
})
ENDPOINT = _lenient({
    "addresses": {"items": "string"}, "conditions": _lenient(dict.fromkeys(("ready", "serving", "terminating"),
                                                                          "boolean")),
    "deprecatedTopology": "any", "hints": "any", "hostname": "string", "nodeName": "string", "targetRef": "any",
    "zone": "string",
})
ENDPOINT_PORT = _lenient({"appProtocol": "string", "name": "string", "port": "integer", "protocol": "string"})

STRING_MATCH: Any = {"fields": {"exact": "string", "prefix": "string", "regex": "string"}}
RATE_LIMIT_POLICY_SPEC: Any = {"fields": {
    "workloadSelector": {"fields": {"labels": LABELS}},
    "rules": {"items": {"fields": {
        "name": "string",
        "match": {"fields": {"path": STRING_MATCH, "method": "string", "headers": {"values": STRING_MATCH}}},
        "limit": {"fields": {"tokens": "integer", "fillInterval": "string", "burst": "integer"}},
        "descriptors": {"items": {"fields": {"header": "string", "clientIp": "boolean"}}},
        "response": {"fields": {"status": "integer", "headers": {"values": "string"}}},
        "global": "boolean",
    }}},
}}

ROOTS: dict[tuple[str, str, str], Any] = {
    ("", "v1", "Service"): {"fields": {"spec": SERVICE_SPEC, "status": "any"}},
    ("", "v1", "Pod"): {"fields": {"spec": POD_SPEC, "status": POD_STATUS}},
    ("", "v1", "Namespace"): {"fields": {"spec": _lenient({"finalizers": {"items": "string"}}), "status": "any"}},
    ("", "v1", "Secret"): {"fields": {"data": {"values": "string"}, "stringData": {"values": "string"},
                                      "type": "string", "immutable": "boolean"}},
    ("discovery.k8s.io", "v1", "EndpointSlice"): {"fields": {
        "addressType": "string", "endpoints": {"items": ENDPOINT}, "ports": {"items": ENDPOINT_PORT}}},
    ("policy.meshpilot.io", "v1alpha1", "RateLimitPolicy"): {"fields": {
        "spec": RATE_LIMIT_POLICY_SPEC, "status": {"open": True}}},
    **knative_schema.ROOTS,
}
"""(group, version, kind) -> the document's tree, without the envelope."""
