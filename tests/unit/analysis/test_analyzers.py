"""Analyzer cases: one valid and one invalid configuration per code, on a small Bookinfo-like mesh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilot.analysis import analyze
from pilot.cli import main
from pilot.model.findings import Finding
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml

MESH = """
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-0, namespace: default, labels: {app: reviews, version: v1}}
spec: {containers: [{name: app, image: none}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2-0, namespace: default, labels: {app: reviews, version: v2}}
spec: {containers: [{name: app, image: none}]}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"""


def findings(extra: str, base: str = MESH) -> list[Finding]:
    return analyze(build_snapshot(resources_from_yaml(base + "\n---\n" + extra)))


def codes(extra: str) -> list[tuple[str, str]]:
    return sorted((f.code, f"{f.kind} {f.namespace}/{f.name}") for f in findings(extra))


def vs(name: str, http: str, hosts: str = "[reviews]", gateways: str = "") -> str:
    gw = f"\n  gateways: {gateways}" if gateways else ""
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: default}}
spec:
  hosts: {hosts}{gw}
  http: {http}
"""


ROUTE_V1 = "[{route: [{destination: {host: reviews, subset: v1}}]}]"


def test_valid_mesh_has_no_findings() -> None:
    assert codes(vs("reviews", ROUTE_V1)) == []


@pytest.mark.parametrize(("extra", "expected"), [
    # IST0101: destination host not found
    (vs("r", "[{route: [{destination: {host: nosuch}}]}]"), [("IST0101", "VirtualService default/r")]),
    # a ServiceEntry host counts as known
    (vs("r", "[{route: [{destination: {host: api.example.com}}]}]") + """
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}], resolution: DNS}
""", []),
    # IST0101: subset not defined in any DestinationRule
    (vs("r", "[{route: [{destination: {host: reviews, subset: v9}}]}]"), [("IST0101", "VirtualService default/r")]),
    # IST0101: gateway not found (and, as in Istio, IST0132: no gateway serves its hosts); a defined one is fine
    (vs("r", ROUTE_V1, gateways="[bookinfo-gateway]"),
     [("IST0101", "VirtualService default/r"), ("IST0132", "VirtualService default/r")]),
    (vs("r", ROUTE_V1, gateways="[bookinfo-gateway]") + """
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec: {selector: {app: reviews}, servers: [{port: {number: 9080, name: http, protocol: HTTP}, hosts: ["*"]}]}
""", []),
    # IST0109: two mesh VirtualServices for one host (a gateway-only one does not conflict)
    (vs("a", ROUTE_V1) + "\n---\n" + vs("b", ROUTE_V1, hosts="[reviews.default.svc.cluster.local]"),
     [("IST0109", "VirtualService default/a"), ("IST0109", "VirtualService default/b")]),
    # the same VirtualService read twice (two files) is one resource, not a conflict
    (vs("a", ROUTE_V1) + "\n---\n" + vs("a", ROUTE_V1), []),
    # IST0130: a rule after a match-less rule; IST0130 when every match repeats an earlier one
    (vs("r", "[{route: [{destination: {host: reviews}}]}, {match: [{uri: {prefix: /a}}], "
             "route: [{destination: {host: reviews}}]}]"), [("IST0130", "VirtualService default/r")]),
    # (Istio reports the repeated match, IST0131, and the rule, IST0130)
    (vs("r", "[{match: [{uri: {prefix: /a}}], route: [{destination: {host: reviews}}]}, "
             "{match: [{uri: {prefix: /a}}], route: [{destination: {host: reviews, subset: v2}}]}]"),
     [("IST0130", "VirtualService default/r"), ("IST0131", "VirtualService default/r")]),
    # IST0131: only one of the matches repeats
    (vs("r", "[{match: [{uri: {prefix: /a}}], route: [{destination: {host: reviews}}]}, "
             "{match: [{uri: {prefix: /a}}, {uri: {prefix: /b}}], route: [{destination: {host: reviews}}]}]"),
     [("IST0131", "VirtualService default/r")]),
])
def test_virtual_service_analyzers(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra) == expected


DR_V3 = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-v3, namespace: default}
spec:
  host: reviews
  subsets: [{name: v3, labels: {version: v3}}]
"""
DR_UNKNOWN = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ghost, namespace: default}
spec: {host: ghost}
"""
SIDECAR = """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: {name}, namespace: default}}
spec: {spec}
"""
AP = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: ap, namespace: default}}
spec: {{selector: {{matchLabels: {labels}}}, action: ALLOW, rules: [{{}}]}}
"""


@pytest.mark.parametrize(("extra", "expected"), [
    (DR_V3, [("IST0173", "DestinationRule default/reviews-v3")]),
    (DR_UNKNOWN, [("IST0174", "DestinationRule default/ghost")]),
    (SIDECAR.format(name="s", spec="{workloadSelector: {labels: {app: reviews}}}"), []),
    (SIDECAR.format(name="s", spec="{workloadSelector: {labels: {app: nothing}}}"),
     [("IST0101", "Sidecar default/s")]),
    (SIDECAR.format(name="a", spec="{workloadSelector: {labels: {app: reviews}}}") + "\n---\n"
     + SIDECAR.format(name="b", spec="{workloadSelector: {labels: {version: v1}}}"),
     [("IST0110", "Sidecar default/a"), ("IST0110", "Sidecar default/b")]),
    (SIDECAR.format(name="a", spec="{}") + "\n---\n" + SIDECAR.format(name="b", spec="{}"),
     [("IST0111", "Sidecar default/a"), ("IST0111", "Sidecar default/b")]),
    (AP.format(labels="{app: reviews}"), []),
    (AP.format(labels="{app: nothing}"), [("IST0127", "AuthorizationPolicy default/ap")]),
    ("""
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: default}
spec: {selector: {app: legacy}, ports: [{name: web, port: 80}, {name: http-alt, port: 81}, {name: x, port: 82,
       appProtocol: http}]}
""", [("IST0118", "Service default/legacy")]),
])
def test_selection_analyzers(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra) == expected


def test_messages_follow_istio_templates() -> None:
    got = {f.code: f for f in findings(vs("r", "[{route: [{destination: {host: nosuch}}]}]") + "\n---\n" + DR_V3)}
    assert got["IST0101"].message == 'Referenced host not found: "nosuch"'
    assert got["IST0101"].field == "spec.http[0].route[0].destination.host"
    assert got["IST0101"].is_error
    assert got["IST0173"].message.startswith("The Subset v3 defined in the DestinationRule does not select any pods")
    assert not got["IST0173"].is_error


def test_cli_analyze_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mesh.yaml").write_text(MESH + "\n---\n" + vs("reviews", ROUTE_V1))
    assert main(["analyze", str(tmp_path)]) == 0
    capsys.readouterr()
    (tmp_path / "bad.yaml").write_text(vs("bad", "[{route: [{destination: {host: nosuch}}]}]", hosts="[nosuch]"))
    assert main(["analyze", str(tmp_path), "-o", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [(r["code"], r["name"], r["severity"]) for r in rows] == [("IST0101", "bad", "error")]
    assert rows[0]["file"].endswith("bad.yaml")
