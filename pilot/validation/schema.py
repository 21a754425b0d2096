"""Allowed-field trees ("shapes") per (group, version, kind): which fields a resource may carry.

Istio's kinds come from `data/istio_fields.json`, generated from Istio's CRD structural schemas by
scripts/gen_field_schemas.py (the file's header names the source and its licence); Kubernetes' own
kinds, object metadata and meshpilot's RateLimitPolicy are written by hand in `schema_local.py` in
the same notation. The API server rejects fields these schemas do not name when asked for strict
field validation (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from pilot.validation import schema_local

SCALARS = frozenset({"string", "integer", "number", "boolean", "int-or-string", "any"})
UNKNOWN_POLICIES = ("error", "warning", "allow")
DATA_FILE = "istio_fields.json"


@dataclass(frozen=True)
class Shape:
    """One node of an allowed-field tree.

    kind: "object" (named fields), "map" (any key, `value` for each), "list" (`value` per item) or a
    scalar: string, integer, number, boolean, int-or-string, any.
    unknown: what a field not in `fields` is: "error", "warning" (accepted, reported) or "allow"
    (x-kubernetes-preserve-unknown-fields).
    """

    kind: str
    fields: Mapping[str, Shape] = field(default_factory=dict)
    value: Shape | None = None
    unknown: str = "error"


ANY = Shape("any")


def parse(node: Any) -> Shape:
    """A Shape from the JSON notation described in scripts/gen_field_schemas.py (plus `"unknown":
    "warning"` on an object, used only by the hand-written schemas)."""
    if isinstance(node, str):
        if node not in SCALARS:
            raise ValueError(f"unknown scalar type {node!r}")
        return ANY if node == "any" else Shape(node)
    if not isinstance(node, Mapping):
        raise ValueError(f"a shape must be a type name or an object, got {node!r}")
    if "items" in node:
        return Shape("list", value=parse(node["items"]))
    if "values" in node:
        return Shape("map", value=parse(node["values"]))
    unknown = "allow" if node.get("open") else str(node.get("unknown", "error"))
    if unknown not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown-field policy must be one of {UNKNOWN_POLICIES}, got {unknown!r}")
    fields = node.get("fields") or {}
    return Shape("object", {str(k): parse(v) for k, v in fields.items()}, unknown=unknown)


def with_fields(shape: Shape, extra: Mapping[str, Shape]) -> Shape:
    """`shape` with more fields (the API server adds apiVersion, kind and metadata to every CRD)."""
    return Shape(shape.kind, {**extra, **shape.fields}, shape.value, shape.unknown)


@cache
def _istio_roots() -> dict[tuple[str, str, str], Shape]:
    text = resources.files("pilot.validation").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    return load_istio(json.loads(text))


def load_istio(document: Mapping[str, Any]) -> dict[tuple[str, str, str], Shape]:
    """(group, version, kind) -> the root shape, with Kubernetes' apiVersion/kind/metadata added."""
    envelope = parse(schema_local.ENVELOPE).fields
    roots: dict[tuple[str, str, str], Shape] = {}
    for entry in document["kinds"]:
        root = with_fields(parse(entry["schema"]), envelope)
        for version in entry["versions"]:
            roots[(entry["group"], version, entry["kind"])] = root
    return roots


@cache
def _local_roots() -> dict[tuple[str, str, str], Shape]:
    envelope = parse(schema_local.ENVELOPE).fields
    return {key: with_fields(parse(tree), envelope) for key, tree in schema_local.ROOTS.items()}


def shape_for(group: str, version: str, kind: str) -> Shape | None:
    """The root shape of a whole document of this kind, or None when meshpilot has none."""
    key = (group, version, kind)
    return _local_roots().get(key) or _istio_roots().get(key)
