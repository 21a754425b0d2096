"""The path every config takes in `pilot serve`, as one call, with the properties fuzzing checks.

`FuzzPipeline.run(text)` writes the text as a YAML file, loads it with the file source's loader and
document check, admits it through a ConfigStore with resource validation, builds a snapshot with the
fuzz mesh, translates for a sidecar of each workload kind and the ingress gateway, and puts the result
in an xDS cache (serialisation and versions). Any exception is a crash and propagates; a finding that
breaks the rules below raises `PropertyViolation`.

Rules for findings: an error names its field path, except the few that are about a file or document
as a whole (YAML syntax, a document that is not a mapping); an error about a resource (not about a
document too broken to be one) also names the resource's kind and name; no finding is a validator's
internal error (validate_resource turns validator crashes into those).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pilot.model.findings import Finding
from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.sources.store import ConfigStore
from pilot.sources.yaml_files import load_file, load_file_text
from pilot.testing.mesh import LoopbackMesh, PodSpec
from pilot.translate.generate import Resources, generate_with_findings
from pilot.validation import validate_document, validate_resource
from pilot.validation.document import CODE_BAD_DOCUMENT
from pilot.xds.cache import ResourceCache

# Findings about a whole file or document: there is no field to name.
WHOLE_DOCUMENT = ("YAML syntax error", "cannot read", "document must be a mapping", "not a Kubernetes object")
INTERNAL = "internal error"
MESH_CONFIG = {"extensionProviders": [
    {"name": "zipkin", "zipkin": {"service": "zipkin.istio-system.svc.cluster.local", "port": 9411}},
    {"name": "otel", "opentelemetry": {"service": "otel.example.com", "port": 4317}},
]}


class PropertyViolation(AssertionError):
    """A config made meshpilot break one of the fuzzing properties (not a crash)."""


def fuzz_mesh() -> tuple[LoopbackMesh, list[PodSpec]]:
    """Bookinfo-like services on loopback plus an ingress gateway; the proxies translated for."""
    mesh = LoopbackMesh.build([("productpage", "v1"), ("reviews", "v1"), ("reviews", "v2"), ("ratings", "v1")],
                              block=(127, 61, 0))
    gateway = mesh.add_gateway(service_ports=((80, 8080), (443, 8443)))
    return mesh, [mesh.pod("productpage"), mesh.pod("reviews", "v2"), gateway]


@dataclass
class Outcome:
    accepted: list[Resource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    translated: list[tuple[str, Resources]] = field(default_factory=list)  # (node id, resources)

    @property
    def rejected(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


class FuzzPipeline:
    def __init__(self, workdir: Path, mtls: bool = True) -> None:
        self.file = workdir / "fuzz.yaml"
        mesh, self.proxies = fuzz_mesh()
        self.base = resources_from_yaml(mesh.yaml(), "base.yaml")
        self.mesh_config = MeshConfig(**{**MeshConfig.from_dict(MESH_CONFIG).__dict__, "workload_mtls": mtls})
        self.base_snapshot = build_snapshot(self.base, self.mesh_config)
        self.cache = ResourceCache()
        self.store = ConfigStore(validate_resource)
        self.store.replace_all("base", self.base)

    def run(self, text: str | bytes) -> Outcome:
        # The store logs every finding as a warning: tens of thousands per fuzz run, all expected.
        store_log = logging.getLogger("pilot.sources.store")
        level = store_log.level
        store_log.setLevel(logging.ERROR)
        try:
            return self._run(text)
        finally:
            store_log.setLevel(level)

    def _run(self, text: str | bytes) -> Outcome:
        if isinstance(text, bytes):  # bytes go through the file system, for the loader's decoding
            self.file.write_bytes(text)
            loaded = load_file(self.file, validate_document)
        else:
            loaded = load_file_text(text, str(self.file), validate_document)
        store = self.store
        store.replace_all("fuzz", [])  # nothing "last good" may carry over from the previous run
        store.replace_all("fuzz", loaded.resources, load_errors=loaded.findings)
        findings = [f for f in store.findings() if f.origin.path != "base.yaml"]
        check_findings(findings)
        out = Outcome(findings=findings)
        out.accepted = [r for r in store.resources() if r.origin.path == str(self.file)]
        if out.accepted:
            snap = build_snapshot(store.resources(), self.mesh_config, previous=self.base_snapshot)
            out.translated = self.translate(snap)
        return out

    def translate(self, snap: MeshSnapshot) -> list[tuple[str, Resources]]:
        done = []
        snap.graph  # noqa: B018 -- the mesh graph is part of the snapshot push scoping reads
        for pod in self.proxies:
            resources, _findings = generate_with_findings(snap, snap.proxy_view(NodeId.parse(pod.node_id)))
            self.cache.set_node_resources(pod.node_id, resources)
            done.append((pod.node_id, resources))
        return done


def check_findings(findings: list[Finding]) -> None:
    for f in findings:
        if INTERNAL in f.message:
            raise PropertyViolation(f"validator crashed: {f.line()}")
        if not f.is_error or f.message.startswith(WHOLE_DOCUMENT):
            continue
        if not f.field:
            raise PropertyViolation(f"rejection without a field path: {f.line()}")
        if f.code != CODE_BAD_DOCUMENT and (not f.kind or not f.name):
            raise PropertyViolation(f"rejection without its resource: {f.line()}")
