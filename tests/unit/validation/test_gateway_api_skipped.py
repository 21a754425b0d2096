"""A Gateway API (gateway.networking.k8s.io) Gateway shares its kind name with Istio's Gateway but is
another API: validation and loading skip it with a warning, never read it as Istio's."""

from __future__ import annotations

from pathlib import Path

from pilot.model.findings import SKIPPED_KIND_CODE
from pilot.model.resource import Origin
from pilot.sources.yaml_files import load_paths
from pilot.validation import validate_document

GATEWAY_API = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "default"},
               "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}


def test_gateway_api_gateway_is_a_skipped_kind_not_an_invalid_istio_gateway(tmp_path: Path) -> None:
    findings = validate_document(GATEWAY_API, Origin("gw.yaml", 1))
    assert [(f.code, f.is_error) for f in findings] == [(SKIPPED_KIND_CODE, False)]
    assert "gateway.networking.k8s.io" in findings[0].message
    (tmp_path / "gw.yaml").write_text(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: default}\n"
        "spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}\n")
    resources, found, _ = load_paths([tmp_path], validate_document)
    assert resources == [] and not any(f.is_error for f in found)


def test_an_istio_group_with_the_wrong_version_or_group_is_still_an_error() -> None:
    for api in ("networking.istio.io/v2", "security.istio.io/v1"):
        doc = {**GATEWAY_API, "apiVersion": api}
        assert any(f.is_error and f.field == "apiVersion" for f in validate_document(doc, Origin("gw.yaml", 1)))
