"""The config store: resources from every source, validated on the way in.

A resource that fails validation is reported and skipped; if an earlier valid version of the same
resource exists, that one keeps being served ("nothing is lost").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from pilot.model.findings import Finding
from pilot.model.resource import ConfigKey, Resource

log = logging.getLogger(__name__)

Validator = Callable[[Resource], list[Finding]]
Listener = Callable[[set[ConfigKey]], None]


class ConfigStore:
    """Thread-safe; listeners are called (outside the lock) with the keys that changed."""

    def __init__(self, validator: Validator | None = None) -> None:
        self._validator = validator or (lambda r: [])
        self._lock = threading.Lock()
        # source id -> key -> last valid resource
        self._good: dict[str, dict[ConfigKey, Resource]] = {}
        # source id -> key -> current findings (errors and warnings) for that key
        self._findings: dict[str, dict[ConfigKey | str, list[Finding]]] = {}
        self._synced: dict[str, bool] = {}
        self._listeners: list[Listener] = []

    # ---- writing -------------------------------------------------------------------------------
    def register(self, source_id: str) -> None:
        with self._lock:
            self._good.setdefault(source_id, {})
            self._findings.setdefault(source_id, {})
            self._synced.setdefault(source_id, False)

    def replace_all(self, source_id: str, resources: Iterable[Resource],
                    load_errors: Iterable[Finding] = (), keep_missing_from: Iterable[str] = ()) -> None:
        """Full state from a source. Keys that vanished are deleted, except those whose file failed to
        parse (`keep_missing_from` lists such origin paths: their last good resources stay)."""
        keep_paths = set(keep_missing_from)
        with self._lock:
            old = self._good.setdefault(source_id, {})
            new: dict[ConfigKey, Resource] = {}
            findings: dict[ConfigKey | str, list[Finding]] = {}
            self._admit(resources, load_errors, old, new, findings)
            for key, res in old.items():
                if key not in new and res.origin.path in keep_paths:
                    new[key] = res
            changed = {k for k in set(old) | set(new) if old.get(k) is not new.get(k)
                       and _body(old.get(k)) != _body(new.get(k))}
            self._good[source_id] = new
            self._findings[source_id] = findings
            self._synced[source_id] = True
        for f in (f for fs in findings.values() for f in fs):
            log.warning("%s", f.line())
        self._notify(changed)

    def replace_paths(self, source_id: str, paths: Iterable[str], resources: Iterable[Resource],
                      load_errors: Iterable[Finding] = (), keep_missing_from: Iterable[str] = ()) -> None:
        """Like `replace_all`, restricted to the resources that came from `paths` (files that changed or
        vanished): everything from other files is left as it is, and only the given resources are
        validated. This is what keeps a one-file edit cheap in a 25k-resource tree (issue #9)."""
        changed_paths = set(paths)
        keep_paths = set(keep_missing_from)
        given = list(resources)
        with self._lock:
            old = self._good.setdefault(source_id, {})
            new = {k: r for k, r in old.items() if r.origin.path not in changed_paths}
            findings = {k: fs for k, fs in self._findings.setdefault(source_id, {}).items()
                        if k not in changed_paths and not any(f.origin.path in changed_paths for f in fs)}
            self._admit(given, load_errors, old, new, findings)
            from_paths = [k for k, r in old.items() if r.origin.path in changed_paths]
            for key in from_paths:
                if key not in new and old[key].origin.path in keep_paths:
                    new[key] = old[key]
            candidates = {*from_paths, *(r.key for r in given)}
            changed = {k for k in candidates if old.get(k) is not new.get(k)
                       and _body(old.get(k)) != _body(new.get(k))}
            self._good[source_id] = new
            self._findings[source_id] = findings
            self._synced[source_id] = True
            reported = [f for k, fs in findings.items() for f in fs
                        if k in changed_paths or any(x.origin.path in changed_paths for x in fs)]
        for f in reported:
            log.warning("%s", f.line())
        self._notify(changed)

    def _admit(self, resources: Iterable[Resource], load_errors: Iterable[Finding],
               old: dict[ConfigKey, Resource], new: dict[ConfigKey, Resource],
               findings: dict[ConfigKey | str, list[Finding]]) -> None:
        """Validate `resources` into `new`; an invalid one keeps its last good version from `old`."""
        for f in load_errors:
            findings.setdefault(f.origin.path or "<load>", []).append(f)
        for res in resources:
            errs = self._validator(res)
            if errs:
                findings[res.key] = errs
            if any(e.is_error for e in errs):
                if res.key in old:
                    new[res.key] = old[res.key]
                continue
            new[res.key] = res

    def upsert(self, source_id: str, res: Resource) -> list[Finding]:
        errs = self._validator(res)
        with self._lock:
            fmap = self._findings.setdefault(source_id, {})
            if errs:
                fmap[res.key] = errs
            else:
                fmap.pop(res.key, None)
            if any(e.is_error for e in errs):
                for e in errs:
                    log.warning("%s", e.line())
                return errs
            good = self._good.setdefault(source_id, {})
            changed = _body(good.get(res.key)) != _body(res)
            good[res.key] = res
        if changed:
            self._notify({res.key})
        return errs

    def delete(self, source_id: str, key: ConfigKey) -> None:
        with self._lock:
            existed = self._good.setdefault(source_id, {}).pop(key, None) is not None
            self._findings.setdefault(source_id, {}).pop(key, None)
        if existed:
            self._notify({key})

    def mark_synced(self, source_id: str) -> None:
        with self._lock:
            self._synced[source_id] = True
        self._notify(set())

    # ---- reading -------------------------------------------------------------------------------
    def resources(self) -> list[Resource]:
        """Merged view; the first source registered wins a key present in several."""
        with self._lock:
            merged: dict[ConfigKey, Resource] = {}
            for per_source in self._good.values():
                for k, r in per_source.items():
                    merged.setdefault(k, r)
            return list(merged.values())

    def findings(self) -> list[Finding]:
        with self._lock:
            return [f for per in self._findings.values() for fs in per.values() for f in fs]

    @property
    def synced(self) -> bool:
        with self._lock:
            return bool(self._synced) and all(self._synced.values())

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _notify(self, keys: set[ConfigKey]) -> None:
        for listener in list(self._listeners):
            listener(keys)


def _body(res: Resource | None) -> object:
    return None if res is None else (res.api_version, res.body)
