"""VirtualService destinations: ports of multi-port services (IST0112) and unknown ports (IST0101 host:port),
for routes and mirrors."""

from __future__ import annotations

import pytest

from tests.unit.analysis.kit import MESH, codes, findings, vs

TWO_PORTS = MESH.replace("ports: [{name: http, port: 9080}]",
                         "ports: [{name: http, port: 9080}, {name: grpc, port: 9090}]")
VS_R = "VirtualService default/r"


@pytest.mark.parametrize(("base", "body", "expected"), [
    (MESH, "http: [{route: [{destination: {host: reviews}}]}]", []),
    (MESH, "http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]", []),
    (MESH, "http: [{route: [{destination: {host: reviews, port: {number: 9999}}}]}]", [("IST0101", VS_R)]),
    (TWO_PORTS, "http: [{route: [{destination: {host: reviews}}]}]", [("IST0112", VS_R)]),
    (TWO_PORTS, "http: [{route: [{destination: {host: reviews, port: {number: 9090}}}]}]", []),
    (TWO_PORTS, "tcp: [{route: [{destination: {host: reviews}}]}]", [("IST0112", VS_R)]),
    (MESH, "http: [{route: [{destination: {host: reviews}}], mirror: {host: nosuch}}]", [("IST0101", VS_R)]),
    (MESH, "http: [{route: [{destination: {host: reviews}}], mirrors: [{destination: {host: nosuch}}]}]",
     [("IST0101", VS_R)]),
])
def test_destination_ports(base: str, body: str, expected: list[tuple[str, str]]) -> None:
    assert codes(vs("r", body), base=base) == expected


def test_messages() -> None:
    (f,) = findings(vs("r", "http: [{route: [{destination: {host: reviews}}]}]"), base=TWO_PORTS)
    assert f.message == ('This VirtualService routes to a service "reviews" that exposes multiple ports [9080 9090]. '
                         "Specifying a port in the destination is required to disambiguate.")
    (f,) = findings(vs("r", "http: [{route: [{destination: {host: reviews}}], mirror: {host: nosuch}}]"))
    assert (f.field, f.message) == ("spec.http[0].mirror.host", 'Referenced mirror host not found: "nosuch"')
