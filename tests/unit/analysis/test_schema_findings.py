"""Analysis reports resources that fail validation (IST0106) instead of dropping them, and keeps going."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilot.cli import main
from pilot.model.findings import Finding
from tests.unit.analysis.kit import MESH, codes, findings, vs

BAD_WEIGHT = vs("bad", "http: [{route: [{destination: {host: reviews}, weight: -1}]}]")
GATEWAY = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec: {selector: {app: reviews}, servers: [{port: {number: 9080, name: http, protocol: HTTP}, hosts: ["*"]}]}
"""


@pytest.mark.parametrize(("extra", "expected"), [
    # an invalid VirtualService is reported, and analysed too: its unknown host is still found
    (vs("bad", "http: [{route: [{destination: {host: nosuch}, weight: -1}]}]"),
     [("IST0101", "VirtualService default/bad"), ("IST0106", "VirtualService default/bad")]),
    (BAD_WEIGHT, [("IST0106", "VirtualService default/bad")]),
    # the rest of the config is still analysed
    (BAD_WEIGHT + "\n---\n" + vs("other", "http: [{route: [{destination: {host: nosuch}}]}]", hosts="[other]"),
     [("IST0101", "VirtualService default/other"), ("IST0106", "VirtualService default/bad")]),
    # a VirtualService bound to an invalid Gateway does not also get "gateway not found"
    (GATEWAY.replace("protocol: HTTP", "protocol: BOGUS") + "\n---\n"
     + vs("r", "http: [{route: [{destination: {host: reviews}}]}]", extra="\n  gateways: [gw]"),
     [("IST0106", "Gateway default/gw")]),
    # negative: valid config has no schema findings
    (GATEWAY, []),
])
def test_invalid_resources_are_reported_not_dropped(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra) == expected


def test_schema_message_and_field() -> None:
    (f,) = [f for f in findings(BAD_WEIGHT) if f.code == "IST0106"]
    assert f.is_error and f.message.startswith("Schema validation error: ")
    assert f.field.startswith("spec.http[0]")


def test_malformed_shapes_do_not_crash_analysis() -> None:
    # `http` is not a list and a subset is not a mapping: reported, and every analyzer still runs
    got = codes(vs("bad", "http: {route: nope}") + """
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: odd, namespace: default}
spec: {host: reviews, subsets: [nope]}
""")
    assert ("IST0106", "VirtualService default/bad") in got
    assert ("IST0106", "DestinationRule default/odd") in got


def test_cli_reports_invalid_resource_as_ist0106(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = vs("other", "http: [{route: [{destination: {host: nosuch}}]}]", hosts="[other]")
    (tmp_path / "mesh.yaml").write_text(MESH + "\n---\n" + BAD_WEIGHT + "\n---\n" + other)
    assert main(["analyze", str(tmp_path), "-o", "json"]) == 1
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert sorted((r["code"], r["name"]) for r in rows) == [("IST0101", "other"), ("IST0106", "bad")]
    assert "skipped" not in out.err


def test_cli_document_errors_are_schema_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: networking.istio.io/v9\nkind: VirtualService\n"
                                       "metadata: {name: v9, namespace: default}\nspec: {hosts: [a]}\n")
    assert main(["analyze", str(tmp_path), "-o", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [(r["code"], r["name"], r["field"]) for r in rows] == [("IST0106", "v9", "apiVersion")]


GATEWAY_API = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: route, namespace: default}
spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: reviews, port: 9080}]}]}
"""


def test_gateway_api_kinds_do_not_collide_with_istio_gateway(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # a Gateway API Gateway named like the Istio Gateway neither replaces it nor is read as one
    (tmp_path / "a.yaml").write_text(MESH + "\n---\n" + GATEWAY + "\n---\n"
                                     + vs("r", "http: [{route: [{destination: {host: reviews}}]}]",
                                          extra="\n  gateways: [gw]"))
    (tmp_path / "b.yaml").write_text(GATEWAY_API)
    assert main(["analyze", str(tmp_path), "-o", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == [] and out.err == ""


def test_gateway_api_gateway_alone_is_not_an_istio_gateway(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(MESH + "\n---\n" + GATEWAY_API + "\n---\n"
                                     + vs("r", "http: [{route: [{destination: {host: reviews}}]}]",
                                          extra="\n  gateways: [gw]"))
    assert main(["analyze", str(tmp_path), "-o", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["code"], r["name"]) for r in rows) == [("IST0101", "r"), ("IST0132", "r")]


def test_an_analyzer_tripping_over_an_invalid_resource_reruns_on_the_valid_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pilot.analysis as analysis
    from pilot.analysis.messages import REFERENCED_RESOURCE_NOT_FOUND, report
    from pilot.model.snapshot import MeshSnapshot

    def fragile(snapshot: MeshSnapshot) -> list[Finding]:
        # reads `weight` as a number, as a careless analyzer would; the invalid resource has a string
        out = []
        for v in snapshot.of_kind("VirtualService"):
            weight = v.spec["http"][0]["route"][0].get("weight", 0)
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, v, "", "weight", str(weight + 1)))
        return out

    monkeypatch.setattr(analysis, "ANALYZERS", (fragile,))
    got = codes(vs("bad", 'http: [{route: [{destination: {host: reviews}, weight: "x"}]}]') + "---\n"
                + vs("good", "http: [{route: [{destination: {host: reviews}}]}]", hosts="[good]"))
    assert got == [("IST0101", "VirtualService default/good"), ("IST0106", "VirtualService default/bad")]
