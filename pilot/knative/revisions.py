"""The revision history of each Configuration, which Knative's configuration controller keeps as
Revision objects and meshpilot keeps itself when that controller does not run (file mode, or a cluster
without Knative).

Every template a Configuration has had is one immutable revision, named `{config}-{generation:05d}`
(the generation counting template changes, from 1) or by the template's own `metadata.name`. An edit
that changes the template creates the next revision; earlier ones stay addressable by `revisionName`
until their Configuration goes away. Revision objects found in the config are taken as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pilot.knative.spec import ConfigSpec, RevisionObject


@dataclass(frozen=True)
class Revision:
    namespace: str
    name: str
    configuration: str
    generation: int
    port: int
    digest: str = ""  # the template it was made from ("" for a Revision object)
    from_object: bool = False


def revision_name(config: str, generation: int) -> str:
    return f"{config}-{generation:05d}"


@dataclass
class RevisionHistory:
    # (namespace, configuration) -> its revisions, oldest first
    _by_config: dict[tuple[str, str], list[Revision]] = field(default_factory=dict)

    def observe(self, configurations: Iterable[ConfigSpec], objects: Iterable[RevisionObject] = ()) -> None:
        """Merge the Revision objects in, record a new revision for every Configuration whose template is
        not its latest revision's, and forget Configurations that are gone."""
        seen: set[tuple[str, str]] = set()
        objects = list(objects)
        present = {(o.namespace, o.name) for o in objects}
        for history in self._by_config.values():
            history[:] = [r for r in history if not r.from_object or (r.namespace, r.name) in present]
        for obj in objects:
            key = (obj.namespace, obj.configuration)
            seen.add(key)
            history = self._by_config.setdefault(key, [])
            if any(r.name == obj.name for r in history):
                continue
            generation = obj.generation or max((r.generation for r in history), default=0) + 1
            history.append(Revision(obj.namespace, obj.name, obj.configuration, generation, obj.port,
                                    from_object=True))
            history.sort(key=lambda r: r.generation)
        for config in configurations:
            key = (config.namespace, config.name)
            seen.add(key)
            history = self._by_config.setdefault(key, [])
            made = [r for r in history if not r.from_object]
            if config.template.name:
                if any(r.name == config.template.name for r in history):
                    continue  # Knative refuses a template change that keeps a BYO revision name
            elif history and not made:
                continue  # Knative's controller runs: its Revision objects are the history
            elif made and made[-1].digest == config.template.digest:
                continue
            generation = max((r.generation for r in history), default=0) + 1
            name = config.template.name or revision_name(config.name, generation)
            history.append(Revision(config.namespace, name, config.name, generation, config.template.port,
                                    config.template.digest))
        for key in set(self._by_config) - seen:
            del self._by_config[key]

    def of(self, namespace: str, configuration: str) -> list[Revision]:
        return list(self._by_config.get((namespace, configuration), ()))

    def latest_created(self, namespace: str, configuration: str) -> Revision | None:
        history = self._by_config.get((namespace, configuration))
        return history[-1] if history else None

    def all(self) -> list[Revision]:
        return [r for history in self._by_config.values() for r in history]

    def find(self, namespace: str, name: str) -> Revision | None:
        return next((r for r in self.all() if r.namespace == namespace and r.name == name), None)
