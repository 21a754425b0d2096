"""Proxy credentials for `pilot bootstrap`: a token bound to the pod's namespace, service account and name.

The service account comes from the Pod in the config registry (as istiod trusts the API server, not the
proxy). The control plane verifies the token with the key in the same CA dir.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pilot.ca.tokens import TokenIssuer
from pilot.model.proxy import NodeId
from pilot.model.registry import workload_from_pod
from pilot.sources.yaml_files import load_paths

DEFAULT_TOKEN_TTL_S = 7 * 86400  # Envoy re-sends the bootstrap's token on every reconnect


class UnknownPod(LookupError):
    pass


def pod_service_account(config_dirs: Sequence[str | Path], namespace: str, pod: str) -> str:
    """The service account of Pod `namespace/pod` in the config; UnknownPod when there is no such Pod."""
    resources, _findings, _broken = load_paths(config_dirs)
    for res in resources:
        if res.kind == "Pod" and res.namespace == namespace and res.name == pod:
            w = workload_from_pod(res)
            spec = res.spec
            return w.service_account if w else str(spec.get("serviceAccountName") or "default")
    raise UnknownPod(f"no Pod {namespace}/{pod} in {', '.join(map(str, config_dirs))}")


def issue_proxy_token(ca_dir: Path, node_id: str, service_account: str,
                      ttl_s: int = DEFAULT_TOKEN_TTL_S) -> str:
    node = NodeId.parse(node_id)
    return TokenIssuer.load_or_create(ca_dir).issue(node.namespace, service_account, node.pod, ttl_s)
