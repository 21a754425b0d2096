"""One kind (in one namespace, or all) mirrored from the API server into the ConfigStore.

The loop is the client-go Reflector's, which the official Python client does not provide
(kubernetes-client/python-base#57): list (paginated, a consistent snapshot) and hand the store the full
state, then watch from the list's resourceVersion with bookmarks, applying each event. A watch that
ends or drops resumes from the last resourceVersion seen (events or bookmarks), so nothing is lost or
replayed; 410 Gone means that history is compacted, so relist, and `ConfigStore.replace_all` turns the
new full state into exactly the changes since (no lost, no duplicated notification).
https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import watch
from kubernetes.client import ApiClient, ApiException

from pilot.model.kinds import KindInfo
from pilot.model.resource import Origin, Resource, resource_from_document
from pilot.sources.kube import clients, problems
from pilot.sources.kube.backoff import Backoff
from pilot.sources.store import ConfigStore

log = logging.getLogger(__name__)
Keep = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class ReflectorOptions:
    page_size: int = 500
    watch_timeout: float = 300.0  # server-side timeoutSeconds, stretched by up to 20 % per watch
    connect_timeout: float = 10.0
    initial_backoff: float = 0.2
    max_backoff: float = 30.0
    missing_retry: float = 30.0  # how often to look again for a CRD that is not installed
    resync_every: float = 3600.0  # relist this often as a safety net (0: never)


class Reflector:
    def __init__(self, api: ApiClient, info: KindInfo, namespace: str, store: ConfigStore,
                 options: ReflectorOptions, keep: Keep | None = None) -> None:
        self.api, self.info, self.namespace, self.store = api, info, namespace, store
        self.options = options
        self.keep: Keep = keep or (lambda obj: True)
        self.source_id = f"k8s/{info.kind}" + (f"/{namespace}" if namespace else "")
        self.api_version = ""  # the version being watched, once resolved
        self.resource_version: str | None = None  # None: the next step is a (re)list
        self.problem = ""
        self.synced = False
        self.lists = 0  # how many full lists were made (tests check 410 handling with it)
        self._list_fn: clients.ListFunction | None = None
        self._backoff = Backoff(options.initial_backoff, options.max_backoff)
        self._watch: watch.Watch | None = None
        self._last_list = 0.0
        store.register(self.source_id)

    # ---- the loop --------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            delay = self._step(stop)
            if delay:
                stop.wait(delay)

    def interrupt(self) -> None:
        """Unblock a watch read so `run` sees the stop flag (the client's own socket shutdown)."""
        w = self._watch
        if w is not None:
            w.stop()

    def _step(self, stop: threading.Event) -> float:
        """One list or one watch; returns how long to wait before the next step."""
        verb = "list"
        try:
            if self._list_fn is None and not self._resolve():
                return self.options.missing_retry
            if self.resource_version is None or self._resync_due():
                self._relist()
            verb = "watch"
            started, events = time.monotonic(), self._watch_once(stop)
            if events or time.monotonic() - started > 10:
                self._backoff.reset()
            return 0.0
        except ApiException as e:
            return self._api_error(e, verb)
        except Exception as e:  # connection refused, reset, cut mid-stream, read timeout...
            if stop.is_set():
                return 0.0
            self._report(f"{verb} {self.info.kind} failed ({type(e).__name__}: {e}); retrying",
                         logging.WARNING)
            return self._backoff.next()

    def _api_error(self, e: ApiException, verb: str) -> float:
        if e.status == 410:
            log.info("%s: resourceVersion %s expired (410 Gone); relisting", self.source_id,
                     self.resource_version)
            self.resource_version = None
            return 0.0
        if e.status == 404:
            # The CRD went away: its objects are gone with it.
            self._list_fn, self.resource_version = None, None
            self._missing()
            return self.options.missing_retry
        if e.status == 403:
            self._report(problems.forbidden(self.info, verb, self.namespace, e), logging.ERROR)
        elif e.status == 401:
            self._report(problems.unauthorized(e), logging.ERROR)
        else:
            self._report(f"{verb} {self.info.kind}: HTTP {e.status} {problems.server_message(e)}",
                         logging.WARNING)
        return self._backoff.next()

    def _resolve(self) -> bool:
        version = clients.served_version(self.api, self.info)
        if version is None:
            self._missing()
            return False
        self.api_version = f"{self.info.group}/{version}" if self.info.group else version
        if self.info.group in ("", "discovery.k8s.io"):
            self._list_fn = clients.builtin_list_function(self.api, self.info.kind, self.namespace)
        else:
            self._list_fn = clients.custom_list_function(self.api, self.info, version, self.namespace)
        if self.problem:
            log.warning("%s: now served as %s", self.source_id, self.api_version)
            self.problem = ""
        return True

    def _missing(self) -> None:
        # Like istiod, a kind whose CRD is not installed counts as synced and empty, so readiness does
        # not wait for a CRD nobody installed; it is looked for again every `missing_retry` seconds.
        self._report(problems.missing_crd(self.info), logging.WARNING)
        self.store.replace_all(self.source_id, [])
        self.synced = True

    def _report(self, message: str, level: int) -> None:
        if message != self.problem:  # say it once, not on every retry
            log.log(level, "%s: %s", self.source_id, message)
        self.problem = message

    # ---- list ------------------------------------------------------------------------------------
    def _relist(self) -> None:
        assert self._list_fn is not None
        items: list[Resource] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": self.options.page_size, "_preload_content": False,
                                      "_request_timeout": (self.options.connect_timeout, 60)}
            if token:
                kwargs["_continue"] = token
            if self.info.kind in clients.FIELD_SELECTORS:
                kwargs["field_selector"] = clients.FIELD_SELECTORS[self.info.kind]
            page = json.loads(self._list_fn(**kwargs).data)
            items.extend(self._resource(o) for o in page.get("items") or [] if self.keep(o))
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                break
        self.store.replace_all(self.source_id, items)
        self.resource_version = str(meta.get("resourceVersion") or "")
        self.lists += 1
        self._last_list = time.monotonic()
        self.synced = True
        self.problem = ""
        self._backoff.reset()

    def _resync_due(self) -> bool:
        every = self.options.resync_every
        return every > 0 and time.monotonic() - self._last_list > every

    # ---- watch -----------------------------------------------------------------------------------
    def _watch_once(self, stop: threading.Event) -> int:
        """Stream one watch until it times out, drops or fails; returns how many events it gave."""
        timeout = int(self.options.watch_timeout * random.uniform(1.0, 1.2))
        kwargs: dict[str, Any] = {
            "resource_version": self.resource_version, "allow_watch_bookmarks": True,
            "timeout_seconds": timeout,  # also turns off the client's own 410 retry: we relist
            "_request_timeout": (self.options.connect_timeout, timeout + 30),
        }
        if self.info.kind in clients.FIELD_SELECTORS:
            kwargs["field_selector"] = clients.FIELD_SELECTORS[self.info.kind]
        w = self._watch = watch.Watch(return_type=object)  # object: events keep their JSON dicts
        count = 0
        try:
            for event in w.stream(self._list_fn, **kwargs):
                if stop.is_set():
                    break
                self._apply(str(event["type"]), event["raw_object"])
                count += 1
        finally:
            self._watch = None
        return count

    def _apply(self, type_: str, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if type_ in ("ADDED", "MODIFIED") and self.keep(obj):
            self.store.upsert(self.source_id, self._resource(obj))
        elif type_ in ("ADDED", "MODIFIED", "DELETED"):
            res = self._resource(obj)
            self.store.delete(self.source_id, res.key)
        # BOOKMARK carries only a resourceVersion: nothing changed, but we may resume from it.
        if meta.get("resourceVersion"):
            self.resource_version = str(meta["resourceVersion"])
        self.problem = ""

    def _resource(self, obj: Mapping[str, Any]) -> Resource:
        # Items of built-in lists come without kind/apiVersion; managedFields is bookkeeping noise.
        doc = {**obj, "kind": self.info.served_kind, "apiVersion": self.api_version}
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        doc["metadata"] = meta
        origin = Origin(path=f"k8s://{self.info.kind}/{meta.get('namespace', '')}/{meta.get('name', '')}")
        return resource_from_document(doc, origin=origin, default_namespace="")
