"""Golden translation corpus: translation inputs (snapshot resources, mesh config, proxy views) and a
digest of what `generate_with_findings` made of each, recorded from a known-good revision.

The inputs were harvested by recording every (snapshot, view) that the test suite translated, plus
generated Sidecar-scoped scale meshes. A test translates every entry again and compares digests, so
a refactoring of translation or of how snapshots are built cannot change a single byte unnoticed.

Re-record digests only for an intended output change:
    .venv/bin/python -m tests.golden.corpus --update
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pilot.model.mesh import MeshConfig
from pilot.model.proxy import ProxyView
from pilot.model.resource import Origin, Resource
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.translate.generate import generate_with_findings

CORPUS = Path(__file__).with_name("translation_corpus.json.gz")


@dataclasses.dataclass
class Entry:
    resources: list[Resource]
    mesh: MeshConfig
    version: str
    views: list[ProxyView]
    digests: list[dict[str, str]]


def resource_to_dict(r: Resource) -> dict[str, Any]:
    return dataclasses.asdict(r)


def resource_from_dict(d: dict[str, Any]) -> Resource:
    return Resource(**{**d, "origin": Origin(**d["origin"])})


def view_from_dict(d: dict[str, Any]) -> ProxyView:
    return ProxyView(**{**d, "labels": tuple(tuple(x) for x in d["labels"])})


def digest(snapshot: MeshSnapshot, view: ProxyView) -> dict[str, str]:
    resources, findings = generate_with_findings(snapshot, view)
    out = {}
    for type_url in sorted(resources):
        h = hashlib.sha256()
        for name in sorted(resources[type_url]):
            h.update(name.encode() + b"\0" + resources[type_url][name].SerializeToString(deterministic=True) + b"\n")
        out[type_url] = h.hexdigest()[:24]
    out["findings"] = hashlib.sha256("\n".join(sorted(f.line() for f in findings)).encode()).hexdigest()[:24]
    return out


def load() -> Iterator[Entry]:
    for e in json.loads(gzip.decompress(CORPUS.read_bytes())):
        yield Entry([resource_from_dict(r) for r in e["resources"]], MeshConfig(**e["mesh"]), e["version"],
                    [view_from_dict(v) for v in e["views"]], e["digests"])


def save(entries: list[Entry]) -> None:
    data = [{"resources": [resource_to_dict(r) for r in e.resources], "mesh": dataclasses.asdict(e.mesh),
             "version": e.version, "views": [dataclasses.asdict(v) for v in e.views], "digests": e.digests}
            for e in entries]
    CORPUS.write_bytes(gzip.compress(json.dumps(data, sort_keys=True, default=str).encode(), 9, mtime=0))


def _scale_entries() -> Iterator[tuple[list[Resource], MeshConfig, list[ProxyView]]]:
    from pilot.model.proxy import NodeId
    from pilot.sources.memory import resources_from_yaml
    from pilot.testing.scale_mesh import ScaleMesh

    for mesh, mtls in [(ScaleMesh(24, 4, 3, 12), False), (ScaleMesh(24, 4, 3, 12), True),
                       (ScaleMesh(12, 6, 2, 18, mtls_strict=True), True)]:
        resources = resources_from_yaml(mesh.yaml())
        config = MeshConfig(workload_mtls=mtls)
        snap = build_snapshot(resources, config)
        yield resources, config, [snap.proxy_view(NodeId.parse(p.node_id)) for p in mesh.proxied_pods()]


def _from_capture(directory: Path) -> Iterator[tuple[list[Resource], MeshConfig, list[ProxyView]]]:
    for snap_file in sorted(directory.glob("*.snap")):
        res, mesh, _version = pickle.loads(snap_file.read_bytes())
        views = {line for line in snap_file.with_suffix(".views").read_text().splitlines() if line}
        yield [resource_from_dict(r) for r in res], mesh, [view_from_dict(json.loads(v)) for v in sorted(views)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--update", action="store_true", help="re-record the digests of the stored inputs")
    ap.add_argument("--from-capture", type=Path, help="build the inputs from a capture directory")
    a = ap.parse_args()
    if a.from_capture:
        inputs = [*_from_capture(a.from_capture), *_scale_entries()]
    else:
        inputs = [(e.resources, e.mesh, e.views) for e in load()]
    entries = []
    for resources, mesh, views in inputs:
        snap = build_snapshot(resources, mesh)
        entries.append(Entry(resources, mesh, snap.version, views, [digest(snap, v) for v in views]))
    save(entries)
    print(f"{len(entries)} snapshots, {sum(len(e.views) for e in entries)} proxy views -> {CORPUS}")


if __name__ == "__main__":
    main()
