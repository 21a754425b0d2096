"""Snapshots of the knative lab's revisions for unit tests (with or without the revision's pod)."""

from __future__ import annotations

import yaml

from pilot.model.revisions import RevisionModes
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.testing.knative_lab import LabRevision, lab_documents, pod_document

HELLO = LabRevision("hello", "hello-00001", "127.1.2.50")
OTHER = LabRevision("other", "other-00001", "127.1.2.51")
ACTIVATOR = ("127.0.0.1", 8012)


def snapshot(*warm: LabRevision, proxied: frozenset[tuple[str, str]] = frozenset(),
             activator: tuple[str, int] | None = ACTIVATOR) -> MeshSnapshot:
    docs = lab_documents([HELLO, OTHER]) + [pod_document(r) for r in warm]
    return build_snapshot(resources_from_yaml(yaml.safe_dump_all(docs)),
                          revision_modes=RevisionModes(activator, proxied))
