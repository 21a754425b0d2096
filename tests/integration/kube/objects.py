"""Small Kubernetes/Istio documents for the kube tests."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def service(name: str, ns: str = "default", port: int = 9080) -> Doc:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns,
                                                                "labels": {"app": name}},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port}]}}


def pod(name: str, ns: str = "default", app: str = "reviews", ip: str = "10.0.0.1") -> Doc:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": app, "version": "v1"}},
            "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
            "status": {"phase": "Running", "podIP": ip}}


def endpoint_slice(name: str, ns: str = "default", service: str = "reviews",
                   ips: tuple[str, ...] = ("10.0.0.1",)) -> Doc:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 9080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


def virtual_service(name: str, ns: str = "default", weights: tuple[int, int] = (100, 0)) -> Doc:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"hosts": [name], "http": [{"route": [
                {"destination": {"host": name, "subset": "v1"}, "weight": weights[0]},
                {"destination": {"host": name, "subset": "v2"}, "weight": weights[1]}]}]}}


def destination_rule(name: str, ns: str = "default") -> Doc:
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"host": name, "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                                {"name": "v2", "labels": {"version": "v2"}}]}}


def tls_secret(name: str, ns: str = "default", tls: bool = True) -> Doc:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "type": "kubernetes.io/tls" if tls else "Opaque",
            "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"} if tls else {"password": "cA=="}}


def namespace(name: str) -> Doc:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
