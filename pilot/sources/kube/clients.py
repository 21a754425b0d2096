"""Which call of the official `kubernetes` client lists and watches each kind meshpilot reads.

Built-in kinds use their typed APIs; Istio and meshpilot kinds go through the custom objects API in the
first version (newest first, as `KINDS` lists them) that the server's discovery says it serves.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from kubernetes import client, config
from kubernetes.client import ApiClient, ApiException

from pilot.model.kinds import KINDS, KindInfo

ListFunction = Callable[..., Any]

# Gateways read TLS credentials from Secrets; other Secrets are none of meshpilot's business.
FIELD_SELECTORS = {"Secret": "type=kubernetes.io/tls"}


def api_client_from(kubeconfig: str | None = None, context: str | None = None) -> ApiClient:
    """In-cluster credentials when running in a pod and no kubeconfig is given; else the kubeconfig
    (default ~/.kube/config, or $KUBECONFIG) and its current or named context."""
    cfg = client.Configuration()
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=cfg)
    else:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
    cfg.connection_pool_maxsize = POOL_SIZE
    return ApiClient(cfg)


# One long-lived watch per kind shares the client's urllib3 pool; its default (5 per CPU, so 10 here) is
# smaller than the number of kinds, and every watch beyond it logs "Connection pool is full" and
# reconnects per request. Room for every watch plus status writes and lists.
POOL_SIZE = len(KINDS) + 8


def builtin_list_function(api: ApiClient, kind: str, namespace: str) -> ListFunction:
    core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)
    table: dict[str, tuple[ListFunction, ListFunction | None]] = {
        "Service": (core.list_service_for_all_namespaces, core.list_namespaced_service),
        "Pod": (core.list_pod_for_all_namespaces, core.list_namespaced_pod),
        "Secret": (core.list_secret_for_all_namespaces, core.list_namespaced_secret),
        "Namespace": (core.list_namespace, None),
        "EndpointSlice": (discovery.list_endpoint_slice_for_all_namespaces,
                          discovery.list_namespaced_endpoint_slice),
    }
    everywhere, in_namespace = table[kind]
    if namespace and in_namespace is not None:
        return functools.partial(in_namespace, namespace)
    return everywhere


def custom_list_function(api: ApiClient, info: KindInfo, version: str, namespace: str) -> ListFunction:
    objects = client.CustomObjectsApi(api)
    if namespace:
        return functools.partial(objects.list_namespaced_custom_object, info.group, version, namespace,
                                 info.plural)
    return functools.partial(objects.list_cluster_custom_object, info.group, version, info.plural)


def served_version(api: ApiClient, info: KindInfo) -> str | None:
    """The first of the kind's versions the server serves it in, or None (its CRD is not installed)."""
    if info.group in ("", "discovery.k8s.io"):
        return info.versions[0]
    objects = client.CustomObjectsApi(api)
    for version in info.versions:
        try:
            listing = objects.get_api_resources(info.group, version)
        except ApiException as e:
            if e.status == 404:
                continue
            raise
        if any(r.name == info.plural for r in listing.resources or []):
            return version
    return None
