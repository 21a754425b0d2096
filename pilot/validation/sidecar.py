"""Sidecar: which inbound ports a workload's proxy listens on and which hosts it can reach
(https://istio.io/latest/docs/reference/config/networking/sidecar/)."""

from __future__ import annotations

from pilot.validation.fields import check_enum, check_port, check_workload_labels, ip_error
from pilot.validation.hostnames import check_namespace_slash_host
from pilot.validation.node import Node, Report
from pilot.validation.protocols import check_port_name, check_protocol
from pilot.validation.trafficpolicy import check_connection_pool

CAPTURE_MODES = ("DEFAULT", "IPTABLES", "NONE")
UNIX_PREFIX = "unix://"
_LOOPBACK_OR_ANY = ("127.0.0.1", "0.0.0.0", "::1", "::")


def validate_sidecar(report: Report, spec: Node) -> None:
    check_workload_labels(spec["workloadSelector"]["labels"])
    if isinstance(spec.value, dict) and not _configured(spec):
        spec.error("sidecar: empty configuration provided")
    ports: set[int] = set()
    for ingress in spec["ingress"].items():
        _check_ingress(ingress, ports)
    check_connection_pool(spec["inboundConnectionPool"])
    _check_egress_listeners(spec["egress"])
    policy = spec["outboundTrafficPolicy"]
    mode = check_enum(policy["mode"], ("REGISTRY_ONLY", "ALLOW_ANY"))
    if policy["egressProxy"].present and mode != "ALLOW_ANY":
        policy["egressProxy"].error(
            "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode")


def _configured(spec: Node) -> list[str]:
    """The fields that configure something. Istio decodes `egress: []` like an absent list, so a Sidecar
    with only that is empty to it; an empty object (`outboundTrafficPolicy: {}`) is still a value."""
    return [key for key in spec.keys_present("egress", "ingress", "outboundTrafficPolicy", "inboundConnectionPool")
            if spec[key].value != []]


def _check_ingress(ingress: Node, ports: set[int]) -> None:
    if not ingress.has("port"):
        ingress["port"].error("sidecar: port is required for ingress listeners")
        return
    port = _check_sidecar_port(ingress["port"])
    if port is not None:
        if port in ports:
            ingress["port"]["number"].error("sidecar: ports on IP bound listeners must be unique")
        ports.add(port)
    _check_bind_ip(ingress["bind"])
    _check_default_endpoint(ingress["defaultEndpoint"])
    check_enum(ingress["captureMode"], CAPTURE_MODES)
    check_connection_pool(ingress["connectionPool"])
    tls = ingress["tls"]
    if tls.present:
        for field, text in (("credentialName", "credentialName is not currently supported"),
                            ("subjectAltNames", "subjectAltNames is not supported in ingress tls"),
                            ("httpsRedirect", "httpsRedirect is not supported")):
            if tls.has(field):
                tls[field].error(f"sidecar: {text}")
        if tls["mode"].value in ("ISTIO_MUTUAL", "AUTO_PASSTHROUGH"):
            tls["mode"].error(
                f"configuration is invalid: cannot set mode to {tls['mode'].value} in sidecar ingress tls")


def _check_default_endpoint(node: Node) -> None:
    endpoint = node.text()
    if not endpoint:
        return
    if endpoint.startswith(UNIX_PREFIX):
        path = endpoint[len(UNIX_PREFIX):]
        if not (path.startswith("/") or path.startswith("@")) or path.endswith("/"):
            node.error(f"{path} is not an absolute path to a file")
        return
    host, sep, port = endpoint.rpartition(":")
    host = host.strip("[]")
    if not sep or (host and host not in _LOOPBACK_OR_ANY):
        node.error("sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,"
                   "[::]:port,unix://filepath or unset")
    elif not port.isdigit():
        node.error(f"sidecar: defaultEndpoint port ({port}) is not a number")
    elif not 1 <= int(port) <= 65535:
        node.error(f"port number {port} must be in the range 1..65535")


def _check_sidecar_port(port: Node) -> int | None:
    check_port_name(port["name"])
    check_protocol(port["protocol"])
    if port.has("targetPort"):
        port["targetPort"].error("targetPort has no impact on Sidecars")
    return check_port(port["number"], required=True, what="port number")


def _check_bind_ip(node: Node) -> None:
    bind = node.text()
    if bind and (problem := ip_error(bind)):
        node.error(problem)


def _check_egress_listeners(egress: Node) -> None:
    listeners = egress.items()
    catch_all_seen = False
    ports: set[int] = set()
    sockets: set[str] = set()
    for index, listener in enumerate(listeners):
        if not listener.has("port"):
            if catch_all_seen:
                listener.error("sidecar: egress can have only one listener with empty port")
            elif index != len(listeners) - 1:
                listener.error(
                    "sidecar: the egress listener with empty port should be the last listener in the list")
            catch_all_seen = True
        else:
            _check_egress_port(listener, ports, sockets)
        hosts = listener["hosts"].strings()
        if not hosts:
            listener["hosts"].error("sidecar: egress listener must contain at least one host")
        seen: set[str] = set()
        for item, host in hosts:
            check_namespace_slash_host(item, host, gateway=False)
            if host in seen:
                item.warning(f"duplicated egress host: {host}")
            seen.add(host)
        if "*/*" in seen and len(seen) > 1:
            listener["hosts"].warning("`*/*` host select all resources, no other hosts can be added")


def _check_egress_port(listener: Node, ports: set[int], sockets: set[str]) -> None:
    port_node = listener["port"]
    bind = listener["bind"].text() or ""
    capture = check_enum(listener["captureMode"], CAPTURE_MODES)
    if port_node["number"].value == 0:
        # Port 0 means a Unix domain socket listener, named by bind.
        check_port_name(port_node["name"])
        check_protocol(port_node["protocol"])
        if not bind.startswith(UNIX_PREFIX):
            listener["bind"].error("sidecar: ports with 0 value must have a unix domain socket bind address")
        elif bind in sockets:
            listener["bind"].error("sidecar: unix domain socket values for listeners must be unique")
        sockets.add(bind)
        if capture not in (None, "DEFAULT", "NONE"):
            listener["captureMode"].error(
                "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners")
        return
    port = _check_sidecar_port(port_node)
    if port is not None:
        if port in ports:
            port_node["number"].error("sidecar: ports on IP bound listeners must be unique")
        ports.add(port)
    _check_bind_ip(listener["bind"])
