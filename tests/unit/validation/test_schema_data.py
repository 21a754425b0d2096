"""The allowed-field trees: the generator (scripts/gen_field_schemas.py), the committed data file it wrote
and the loader that turns both it and the hand-written trees into Shapes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from pilot.model.kinds import KINDS
from pilot.validation import schema
from pilot.validation.schema import ANY, Shape, parse, shape_for

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "pilot" / "validation" / "data" / schema.DATA_FILE
CRD_SOURCE = REPO / "tests" / "fixtures" / "istio" / "manifests" / "charts" / "base" / "files" / "crd-all.gen.yaml"

TINY_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io}
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  versions:
  - name: v1
    served: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 0}
              port: {anyOf: [{type: integer}, {type: string}], x-kubernetes-int-or-string: true}
              tags: {type: array, items: {type: string}}
              labels: {type: object, additionalProperties: {type: string}}
              headers: {type: object, additionalProperties: {type: object, properties: {exact: {type: string}}}}
              value: {type: object, x-kubernetes-preserve-unknown-fields: true}
              untyped: {description: no type}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v1beta1
    served: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}
  - name: v1alpha1
    served: false
    schema: {openAPIV3Schema: {type: object}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
"""


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_field_schemas", REPO / "scripts" / "gen_field_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_keeps_names_types_items_maps_and_open_regions() -> None:
    document = json.loads(_generator().generate(TINY_CRD))
    assert [(k["kind"], k["versions"]) for k in document["kinds"]] == [("Widget", ["v1"]), ("Widget", ["v1beta1"])]
    assert document["kinds"][0]["schema"] == {"fields": {
        "spec": {"fields": {
            "headers": {"values": {"fields": {"exact": "string"}}}, "labels": {"values": "string"},
            "port": "int-or-string", "size": "integer", "tags": {"items": "string"}, "untyped": "any",
            "value": {"open": True}}},
        "status": {"open": True}}}
    assert len(document["source_sha256"]) == 64


def test_identical_versions_are_written_once() -> None:
    same = TINY_CRD.replace("- name: v1beta1\n    served: true\n    schema: {openAPIV3Schema: {type: object, "
                            "properties: {spec: {type: object, properties: {size: {type: integer}}}}}}",
                            "- name: v2\n    served: true\n" + TINY_CRD.split("  - name: v1\n    served: true\n")[1]
                            .split("  - name: v1beta1")[0])
    document = json.loads(_generator().generate(same))
    assert [k["versions"] for k in document["kinds"]] == [["v1", "v2"]]


def test_the_committed_data_file_names_its_source_and_licence() -> None:
    document = json.loads(DATA.read_text())
    header = " ".join(document["header"])
    assert "crd-all.gen.yaml" in header and "Apache License, Version 2.0" in header
    assert "scripts/gen_field_schemas.py" in header


def test_the_committed_data_file_is_what_the_generator_makes_from_the_crd_copy_in_the_repo() -> None:
    # The data is read at runtime and the CRD copy lives in the repo, so nothing depends on where the
    # repo (or the team's shared fixtures) is checked out, and a hand edit to either is caught here.
    assert DATA.read_text(encoding="utf-8") == _generator().generate(CRD_SOURCE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_and_version_meshpilot_accepts_has_a_schema(kind: str) -> None:
    info = KINDS[kind]
    for version in info.versions:
        shape = shape_for(info.group, version, kind)
        assert shape is not None, f"{info.group}/{version} {kind}"
        assert {"apiVersion", "kind", "metadata"} <= set(shape.fields)


def test_loaded_trees_match_what_istio_documents() -> None:
    vs = shape_for("networking.istio.io", "v1", "VirtualService")
    assert vs is not None and vs.unknown == "error"
    route = vs.fields["spec"].fields["http"].value.fields["route"].value  # type: ignore[union-attr]
    assert set(route.fields) == {"destination", "headers", "weight"}
    assert route.fields["weight"] == Shape("integer")
    envoy_filter = shape_for("networking.istio.io", "v1alpha3", "EnvoyFilter")
    assert envoy_filter is not None
    patch = envoy_filter.fields["spec"].fields["configPatches"].value.fields["patch"]  # type: ignore[union-attr]
    assert patch.fields["value"].unknown == "allow"
    assert vs.fields["status"].unknown == "allow"
    assert shape_for("networking.istio.io", "v1", "EnvoyFilter") is None  # EnvoyFilter is served as v1alpha3 only


def test_parse_reads_the_notation_and_refuses_what_it_does_not_know() -> None:
    assert parse("any") is ANY
    assert parse({"items": "string"}) == Shape("list", value=Shape("string"))
    assert parse({"values": {"fields": {}}}) == Shape("map", value=Shape("object"))
    assert parse({"fields": {"a": "boolean"}, "unknown": "warning"}).unknown == "warning"
    for bad in ("float", {"fields": {}, "unknown": "maybe"}, 3):
        with pytest.raises(ValueError):
            parse(bad)
