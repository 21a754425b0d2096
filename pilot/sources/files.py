"""The file source (the embedded default): directories of Kubernetes/Istio YAML, hot-reloaded on edit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from pilot.sources.store import ConfigStore
from pilot.sources.yaml_files import DocumentCheck, load_paths

log = logging.getLogger(__name__)


class FileSource:
    def __init__(self, paths: Sequence[str | Path], store: ConfigStore,
                 check: DocumentCheck | None = None, source_id: str = "files") -> None:
        self.paths = [Path(p) for p in paths]
        self.store = store
        self.check = check
        self.source_id = source_id
        self._task: asyncio.Task[None] | None = None
        store.register(source_id)

    def load(self) -> None:
        """Read every file and hand the full state to the store (keeping last good of broken files)."""
        resources, findings, broken = load_paths(self.paths, self.check)
        self.store.replace_all(self.source_id, resources, load_errors=findings, keep_missing_from=broken)

    async def watch(self) -> None:
        """Reload on any change under the paths. The store and the debouncer coalesce bursts."""
        from watchfiles import awatch

        watch_roots = [str(p if p.is_dir() else p.parent) for p in self.paths if p.exists()]
        if not watch_roots:
            return
        async for changes in awatch(*watch_roots, debounce=50, step=20, recursive=True):
            log.info("config files changed: %s", sorted({c[1] for c in changes}))
            try:
                self.load()
            except Exception:  # a source must never die on bad input
                log.exception("reloading config files failed")

    def start(self) -> None:
        self.load()
        self._task = asyncio.get_running_loop().create_task(self.watch(), name="file-source-watch")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
