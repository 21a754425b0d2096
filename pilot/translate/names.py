"""Envoy resource names exactly as istiod emits them (istio-reference.md §2).

EnvoyFilter patches, istioctl habits and simulation expectations all key on these names.
"""

from __future__ import annotations


def outbound_cluster(port: int, subset: str, host: str) -> str:
    return f"outbound|{port}|{subset}|{host}"


def inbound_cluster(port: int) -> str:
    return f"inbound|{port}||"


def parse_outbound_cluster(name: str) -> tuple[int, str, str] | None:
    parts = name.split("|")
    if len(parts) != 4 or parts[0] != "outbound":
        return None
    try:
        return int(parts[1]), parts[2], parts[3]
    except ValueError:
        return None


def istio_sni(port: int, subset: str, host: str) -> str:
    return f"outbound_.{port}_.{subset}_.{host}"


def listener_name(bind: str, port: int) -> str:
    return f"{bind}_{port}"


def outbound_route_name(port: int) -> str:
    return str(port)


def virtual_host_name(host: str, port: int) -> str:
    return f"{host}:{port}"


def inbound_vhost_name(port: int) -> str:
    return f"inbound|http|{port}"


def rbac_policy_name(ns: str, name: str, rule: int) -> str:
    return f"ns[{ns}]-policy[{name}]-rule[{rule}]"


BLACKHOLE = "BlackHoleCluster"
PASSTHROUGH = "PassthroughCluster"
