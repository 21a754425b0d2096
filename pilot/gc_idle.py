"""Full garbage collections only when the control plane is idle.

A snapshot of 25k resources plus the translated config of 2000 proxies is millions of long-lived
objects; CPython's automatic oldest-generation collection walks all of them (~350 ms measured on the
issue #9 mesh) and it fires in the middle of a push. So after each collection everything alive is
frozen (`gc.freeze`, https://docs.python.org/3/library/gc.html#gc.freeze): automatic collections then
only look at objects allocated since. After each push or connection the survivors are frozen again
(an O(1) list splice), so automatic collections stay small while thousands of proxies sync. Cyclic
garbage among frozen objects (old snapshots' memos) is reclaimed by a full collection, run when
nothing happened for `idle_s`, or at the latest after `max_interval_s` of continuous churn, so memory
stays bounded. A full collection blocks the loop (~0.5 s at 2000 proxies), hence the long idle wait:
a change that arrives during one is delayed by that much.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)


class IdleCollector:
    def __init__(self, idle_s: float = 30.0, max_interval_s: float = 600.0) -> None:
        self.idle_s = idle_s
        self.max_interval_s = max_interval_s
        self.collections = 0
        self.last_collect_s = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._dirty_since: float | None = None

    def collect_now(self) -> None:
        start = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.collections += 1
        self.last_collect_s = time.perf_counter() - start
        self._dirty_since = None
        log.debug("full collection in %.0f ms", self.last_collect_s * 1000)

    def activity(self) -> None:
        """Work just happened (a push): collect once things have been quiet for `idle_s`."""
        gc.freeze()
        now = time.monotonic()
        if self._dirty_since is None:
            self._dirty_since = now
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if now - self._dirty_since >= self.max_interval_s:
            self.collect_now()
            return
        self._timer = asyncio.get_running_loop().call_later(self.idle_s, self._on_idle)

    def _on_idle(self) -> None:
        self._timer = None
        self.collect_now()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        gc.unfreeze()
