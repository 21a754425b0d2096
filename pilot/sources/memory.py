"""The in-memory twin of every source, for tests, the simulator and the analyzer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from pilot.model.resource import Origin, Resource, resource_from_document
from pilot.sources.store import ConfigStore


def resources_from_yaml(text: str, path: str = "<memory>") -> list[Resource]:
    from pilot.sources.yaml_files import load_text

    docs, errs = load_text(text, path)
    if errs:
        raise ValueError(errs[0].line())
    return [resource_from_document(d, o) for d, o in docs]


class MemorySource:
    def __init__(self, store: ConfigStore, source_id: str = "memory") -> None:
        self.store = store
        self.source_id = source_id
        store.register(source_id)

    def set_all(self, resources: Iterable[Resource]) -> None:
        self.store.replace_all(self.source_id, resources)

    def apply(self, doc: dict[str, Any] | str) -> None:
        docs = [doc] if isinstance(doc, dict) else list(yaml.safe_load_all(doc))
        for d in docs:
            if d:
                self.store.upsert(self.source_id, resource_from_document(d, Origin("<memory>", 0)))

    def delete(self, resource: Resource) -> None:
        self.store.delete(self.source_id, resource.key)
