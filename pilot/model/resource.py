"""A config resource as users write it (Kubernetes or Istio YAML), with where it came from."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pilot.model.kinds import internal_kind


@dataclass(frozen=True, order=True)
class ConfigKey:
    """Identity of a resource: its kind, namespace and name (cluster-scoped kinds have namespace "")."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Origin:
    """Where a resource was read: a file and the line its document starts on, or a Kubernetes object."""

    path: str = ""
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.path else "<memory>"


@dataclass(frozen=True)
class Resource:
    """One Kubernetes/Istio object. `spec`, `status` and `body` are treated as read-only.

    `body` is the whole document (for kinds like Secret whose data is not under `spec`).
    """

    kind: str
    api_version: str
    name: str
    namespace: str
    spec: Mapping[str, Any] = field(default_factory=dict, compare=False)
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)
    status: Mapping[str, Any] = field(default_factory=dict, compare=False)
    body: Mapping[str, Any] = field(default_factory=dict, compare=False)
    origin: Origin = field(default_factory=Origin, compare=False)
    creation_timestamp: str = field(default="", compare=False)
    resource_version: str = field(default="", compare=False)

    @cached_property
    def key(self) -> ConfigKey:
        # cached: snapshots index 25k resources by key on every change (issue #9)
        return ConfigKey(self.kind, self.namespace, self.name)

    @cached_property
    def precedence(self) -> tuple[str, str, str]:
        """Sort key for conflicts: Istio prefers the oldest creationTimestamp, then namespace/name."""
        return (self.creation_timestamp or "~", self.namespace, self.name)

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0] if "/" in self.api_version else ""

    @property
    def version(self) -> str:
        return self.api_version.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @cached_property
    def content_digest(self) -> int:
        """A 128-bit hash of what the resource says, computed once per object (snapshots of 20,000
        resources reuse it instead of re-serialising every resource on every change)."""
        text = json.dumps([self.kind, self.api_version, self.namespace, self.name, _string_keys(self.body)],
                          sort_keys=True, default=str)
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big")


def resource_from_document(doc: Mapping[str, Any], origin: Origin | None = None,
                           default_namespace: str = "default") -> Resource:
    """Build a Resource from a parsed YAML/JSON document (the caller has checked kind/apiVersion exist)."""
    meta = doc.get("metadata") or {}
    kind = internal_kind(str(doc.get("apiVersion", "")), str(doc.get("kind", "")))
    namespace = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or default_namespace)
    return Resource(
        kind=kind,
        api_version=str(doc.get("apiVersion", "")),
        name=str(meta.get("name", "")),
        namespace=namespace,
        spec=doc.get("spec") or {},
        labels=_string_map(meta.get("labels")),
        annotations=_string_map(meta.get("annotations")),
        status=doc.get("status") or {},
        body=doc,
        origin=origin or Origin(),
        creation_timestamp=str(meta.get("creationTimestamp") or ""),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


def _string_keys(value: Any) -> Any:
    """`value` with every mapping key a string: YAML keys may be numbers, dates or null, and sorting
    mixed key types for a digest fails (`{1: a, b: c}` in an EnvoyFilter patch value)."""
    if isinstance(value, Mapping):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_string_keys(v) for v in value]
    return value


def _string_map(value: Any) -> dict[str, str]:
    """Labels or annotations as strings; a value that is not a map is none (validation reports it)."""
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


CLUSTER_SCOPED = frozenset({"Namespace"})
