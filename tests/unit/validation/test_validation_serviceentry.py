# ruff: noqa: E501  (case tables read best one case per line)
"""ServiceEntry and WorkloadEntry validation."""

from __future__ import annotations

from typing import Any

import pytest

HTTP = {"number": 80, "name": "http", "protocol": "HTTP"}
TCP = {"number": 3306, "name": "tcp", "protocol": "TCP"}


def se(**extra: Any) -> dict[str, Any]:
    return {"hosts": ["api.example.com"], "ports": [HTTP], "resolution": "DNS", **extra}


SE_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("dns", se(), []),
    ("static with endpoints", se(resolution="STATIC", endpoints=[{"address": "10.0.0.1", "ports": {"http": 8080}}]), []),
    ("static with selector", se(resolution="STATIC", workloadSelector={"labels": {"app": "vm"}}), []),
    ("no hosts", se(hosts=[]), [("spec.hosts", "service entry must have at least one host")]),
    ("star host", se(hosts=["*"]), [("spec.hosts[0]", "invalid host *")]),
    ("bad host", se(hosts=["api_example.com"]), [("spec.hosts[0]", "label 'api_example' invalid")]),
    ("bad resolution", se(resolution="MAGIC"), [("spec.resolution", "unsupported value 'MAGIC'")]),
    ("bad location", se(location="MESH_OUTSIDE"), [("spec.location", "unsupported value 'MESH_OUTSIDE'")]),
    ("cidr with dns", se(addresses=["10.0.0.0/24"]),
     [("spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types")]),
    ("cidr with none", se(addresses=["10.0.0.0/24"], resolution="NONE"), []),
    ("bad address", se(addresses=["10.0.0.300"]), [("spec.addresses[0]", "10.0.0.300 is not a valid IP")]),
    ("duplicate port number", se(ports=[HTTP, {**HTTP, "name": "http2"}]),
     [("spec.ports[1].number", "service entry port 80 already defined")]),
    ("duplicate port name", se(ports=[HTTP, {**HTTP, "number": 8080}]),
     [("spec.ports[1].name", "service entry port name 'http' already defined")]),
    ("bad port protocol", se(ports=[{**HTTP, "protocol": "SOAP"}]),
     [("spec.ports[0].protocol", "unsupported protocol: SOAP")]),
    ("port missing number", se(ports=[{"name": "http"}]), [("spec.ports[0].number", "port number is required")]),
    ("selector and endpoints", se(resolution="STATIC", workloadSelector={"labels": {"a": "b"}},
                                   endpoints=[{"address": "1.1.1.1"}]),
     [("spec", "only one of WorkloadSelector or Endpoints is allowed")]),
    ("none with endpoints", se(resolution="NONE", endpoints=[{"address": "1.1.1.1"}]),
     [("spec.endpoints", "no endpoints should be provided for resolution type none")]),
    ("static without endpoints", se(resolution="STATIC"),
     [("spec.endpoints", "endpoints or a workloadSelector are required for resolution type STATIC")]),
    ("static fqdn endpoint", se(resolution="STATIC", endpoints=[{"address": "vm.example.com"}]),
     [("spec.endpoints[0].address", "endpoint address 'vm.example.com' is not a valid IP address")]),
    ("dns fqdn endpoint", se(endpoints=[{"address": "vm.example.com"}]), []),
    ("endpoint undefined port", se(resolution="STATIC", endpoints=[{"address": "1.1.1.1", "ports": {"grpc": 9000}}]),
     [("spec.endpoints[0].ports.grpc", "endpoint port 9000 is not defined by the service entry")]),
    ("endpoint unix with ports", se(resolution="STATIC", endpoints=[{"address": "unix:///sock", "ports": {"http": 1}}]),
     [("spec.endpoints[0].ports", "unix endpoint unix:///sock must not include ports")]),
    ("endpoint no address", se(resolution="STATIC", endpoints=[{"labels": {"a": "b"}}]),
     [("spec.endpoints[0].address", "address is required")]),
    ("round robin two endpoints", se(resolution="DNS_ROUND_ROBIN", endpoints=[{"address": "a.com"}, {"address": "b.com"}]),
     [("spec.endpoints", "there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN")]),
    ("dns wildcard without endpoints", se(hosts=["*.example.com"]),
     [("spec.hosts", "hosts must be FQDN or contain only prefix wildcards")]),
    ("multiple hosts tcp", se(hosts=["a.com", "b.com"], ports=[TCP]),
     [("spec.hosts", "multiple hosts provided with non-HTTP, non-TLS ports")]),
    ("multiple hosts http", se(hosts=["a.com", "b.com"]), []),
    ("dynamic dns", se(resolution="DYNAMIC_DNS", hosts=["*.example.com"]), []),
    ("dynamic dns not wildcard", se(resolution="DYNAMIC_DNS"),
     [("spec.hosts", "host must be wildcarded for resolution mode DYNAMIC_DNS")]),
    ("exportTo none", se(exportTo=["~"]), []),
]

WE_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("ip", {"address": "10.0.0.5", "labels": {"app": "vm"}, "ports": {"http": 8080}}, []),
    ("fqdn", {"address": "vm1.example.com"}, []),
    ("network only", {"network": "vpc-1"}, []),
    ("no address", {"labels": {"app": "vm"}}, [("spec.address", "address is required")]),
    ("bad address", {"address": "not an address"},
     [("spec.address", "endpoint address 'not an address' is not a valid FQDN or an IP address")]),
    ("bad port", {"address": "10.0.0.5", "ports": {"http": 0}}, [("spec.ports.http", "port number 0")]),
    ("bad unix path", {"address": "unix://relative.sock"}, [("spec.address", "is not an absolute path")]),
    ("negative weight", {"address": "10.0.0.5", "weight": -1}, [("spec.weight", "weight -1 < 0")]),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in SE_CASES], ids=[c[0] for c in SE_CASES])
def test_service_entry(check, spec, expected):
    check("ServiceEntry", spec, expected)


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in WE_CASES], ids=[c[0] for c in WE_CASES])
def test_workload_entry(check, spec, expected):
    check("WorkloadEntry", spec, expected)
