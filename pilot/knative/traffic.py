"""A Route's traffic targets resolved to concrete, ready revisions (Knative's route/traffic/traffic.go).

`latestRevision` targets follow their Configuration's latest *ready* revision; pinned targets need
their revision to exist and be ready. Entries naming the same (tag, revision) are merged and their
percents added. When any target cannot be resolved, the Route is not reprogrammed: the caller keeps
its last good resolution and reports the reason (condition AllTrafficAssigned=False).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pilot.knative.spec import RouteSpec


@dataclass(frozen=True)
class Split:
    revision: str
    percent: int
    tag: str = ""
    configuration: str = ""  # the Configuration a latestRevision target follows
    latest: bool = False


@dataclass(frozen=True)
class Resolution:
    splits: tuple[Split, ...] = ()
    reason: str = ""  # "" when all traffic is assigned, else Knative's condition reason
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


# (namespace, configuration) -> its latest ready revision's name, or None when it has none ready;
# raises KeyError when there is no such Configuration.
LatestReady = Callable[[str, str], str | None]
# (namespace, revision) -> whether it is ready, or None when there is no such revision.
RevisionReady = Callable[[str, str], bool | None]


def resolve(route: RouteSpec, latest_ready: LatestReady, revision_ready: RevisionReady) -> Resolution:
    splits: list[Split] = []
    for target in route.targets:
        if target.latest:
            try:
                revision = latest_ready(route.namespace, target.configuration)
            except KeyError:
                return Resolution(reason="ConfigurationMissing",
                                  message=f'Configuration "{target.configuration}" referenced in traffic not found.')
            if revision is None:
                return Resolution(reason="RevisionMissing",
                                  message=f'Configuration "{target.configuration}" does not have any ready '
                                          "Revision.")
            splits.append(Split(revision, target.percent, target.tag, target.configuration, latest=True))
            continue
        ready = revision_ready(route.namespace, target.revision)
        if ready is None:
            return Resolution(reason="RevisionMissing",
                              message=f'Revision "{target.revision}" referenced in traffic not found.')
        if not ready:
            return Resolution(reason="RevisionMissing", message=f'Revision "{target.revision}" is not ready.')
        splits.append(Split(target.revision, target.percent, target.tag))
    return Resolution(merge(splits))


def merge(splits: list[Split]) -> tuple[Split, ...]:
    """One split per (tag, revision, latest), in first-seen order, with the percents added."""
    merged: dict[tuple[str, str, bool], Split] = {}
    for s in splits:
        key = (s.tag, s.revision, s.latest)
        before = merged.get(key)
        merged[key] = s if before is None else Split(s.revision, before.percent + s.percent, s.tag,
                                                     s.configuration, s.latest)
    return tuple(merged.values())
