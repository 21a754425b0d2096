"""The file source (the embedded default): directories of Kubernetes/Istio YAML, hot-reloaded on edit."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from pilot.sources.store import ConfigStore
from pilot.sources.yaml_files import YAML_SUFFIXES, DocumentCheck, FileLoad, load_file, yaml_files

log = logging.getLogger(__name__)


class FileSource:
    def __init__(self, paths: Sequence[str | Path], store: ConfigStore,
                 check: DocumentCheck | None = None, source_id: str = "files") -> None:
        self.paths = [Path(p) for p in paths]
        self.store = store
        self.check = check
        self.source_id = source_id
        self._task: asyncio.Task[None] | None = None
        # path -> (mtime_ns, size) of the version last read; what a reload compares against
        self._seen: dict[str, tuple[int, int]] = {}
        store.register(source_id)

    def load(self) -> None:
        """Read every file and hand the full state to the store (keeping last good of broken files)."""
        files = yaml_files(self.paths)
        loads = [self._read(f) for f in files]
        self.store.replace_all(self.source_id, [r for ld in loads for r in ld.resources],
                               load_errors=[f for ld in loads for f in ld.findings],
                               keep_missing_from={ld.path for ld in loads if ld.broken})

    def reload(self, hinted: Iterable[str] | None = None) -> set[str]:
        """Re-read only files that are new, gone, or whose size/mtime changed and replace just their
        resources in the store. `hinted`: the paths the watcher reported; when they are all YAML files
        this looks at those alone (no walk of a 2000-file tree), else at every file. Returns the paths
        re-read or dropped."""
        named = {os.path.abspath(h) for h in hinted} if hinted is not None else None
        if named is not None and all(h.endswith(YAML_SUFFIXES) for h in named):
            known = {os.path.abspath(p): p for p in self._seen}
            gone = {known[h] for h in named if h in known and not os.path.isfile(h)}
            dirty = [f for f in (self._as_scanned(Path(h)) for h in sorted(named) if os.path.isfile(h)) if f]
        else:
            files = {str(f): f for f in yaml_files(self.paths)}
            gone = set(self._seen) - set(files)
            dirty = [f for p, f in files.items()
                     if self._seen.get(p) != _signature(f) or (named is not None and os.path.abspath(p) in named)]
        if not dirty and not gone:
            return set()
        for p in gone:
            del self._seen[p]
        loads = [self._read(f) for f in dirty]
        paths = gone | {ld.path for ld in loads}
        self.store.replace_paths(self.source_id, paths, [r for ld in loads for r in ld.resources],
                                 load_errors=[f for ld in loads for f in ld.findings],
                                 keep_missing_from={ld.path for ld in loads if ld.broken})
        return paths

    def _as_scanned(self, f: Path) -> Path | None:
        """`f` named as a full scan would name it (so origins agree), or None if a scan would skip it."""
        resolved = f.resolve()
        for root in self.paths:
            r = root.resolve()
            if r == resolved:
                return root
            if r.is_dir() and resolved.is_relative_to(r):
                rel = resolved.relative_to(r)
                return None if any(part.startswith(".") for part in rel.parts) else root / rel
        return None

    def _read(self, f: Path) -> FileLoad:
        # The signature is taken before reading: an edit racing the read then shows up as a change
        # on the next event instead of being missed.
        self._seen[str(f)] = _signature(f)
        return load_file(f, self.check)

    async def watch(self) -> None:
        """Reload on any change under the paths. The store and the debouncer coalesce bursts."""
        from watchfiles import awatch

        watch_roots = [str(p if p.is_dir() else p.parent) for p in self.paths if p.exists()]
        if not watch_roots:
            return
        async for changes in awatch(*watch_roots, debounce=50, step=20, recursive=True):
            named = {c[1] for c in changes}
            log.info("config files changed: %s", sorted(named))
            try:
                self.reload(named)
            except Exception:  # a source must never die on bad input
                log.exception("reloading config files failed")

    def start(self) -> None:
        self.load()
        self.start_watching()

    async def start_off_loop(self) -> None:
        """`start()` with the first full load in a worker thread: the loop keeps serving (/ready 503,
        xDS UNAVAILABLE) while a big tree is read; the source counts as synced once it is loaded."""
        await asyncio.to_thread(self.load)
        self.start_watching()

    def start_watching(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.watch(), name="file-source-watch")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass


def _signature(f: Path) -> tuple[int, int]:
    try:
        st = f.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)
