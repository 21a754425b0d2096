"""The fake API server's storage: objects, one global resourceVersion, event history and watchers.

It mirrors etcd + the apiserver watch cache closely enough for a reflector to be tested against it:
every write bumps one cluster-wide revision; a watch from revision N replays every later event and then
streams new ones, or fails with 410 Expired if the history before it was compacted; a paginated list is
a consistent snapshot at the revision of its first page.
See https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
"""

from __future__ import annotations

import copy
import datetime
import queue
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pilot.testing.kubeapi.errors import ApiError, bad_request, expired, not_found
from pilot.testing.kubeapi.resources import ApiResource
from pilot.testing.kubeapi.selectors import Predicate

Obj = dict[str, Any]
ObjKey = tuple[str, str]  # (namespace, name)
StorageKey = tuple[str, str]  # (group, plural)


@dataclass(frozen=True)
class StoredEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    storage: StorageKey
    obj: Obj  # the new state; for DELETED the last state, stamped with the deletion's revision
    old: Obj | None


def obj_key(obj: Obj) -> ObjKey:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class Watcher:
    """One open watch. Events are queued under the state lock, so their order is the commit order."""

    def __init__(self, resource: ApiResource, namespace: str, match: Predicate) -> None:
        self.resource = resource
        self.namespace = namespace
        self.match = match
        self.events: queue.SimpleQueue[tuple[str, Obj] | None] = queue.SimpleQueue()
        self.cut = False

    def offer(self, ev: StoredEvent) -> None:
        if ev.storage != self.resource.storage_key:
            return
        if self.namespace and obj_key(ev.obj)[0] != self.namespace:
            return
        # Selector semantics of the watch cache: an object that starts or stops matching is seen as
        # ADDED or DELETED by this watcher.
        new_ok = self.match(ev.obj)
        old_ok = ev.old is not None and self.match(ev.old)
        if ev.type == "ADDED" and new_ok:
            self.events.put(("ADDED", ev.obj))
        elif ev.type == "DELETED" and new_ok:
            self.events.put(("DELETED", ev.obj))
        elif ev.type == "MODIFIED":
            if new_ok:
                self.events.put(("MODIFIED" if old_ok else "ADDED", ev.obj))
            elif old_ok:
                self.events.put(("DELETED", ev.obj))

    def close(self, cut: bool) -> None:
        self.cut = cut
        self.events.put(None)


class ClusterState:
    def __init__(self, resources: Iterable[ApiResource], first_rv: int = 100,
                 max_history: int = 200_000) -> None:
        self.lock = threading.RLock()
        self.resources = {r.storage_key: r for r in resources}
        self.rv = first_rv
        self.compacted_rv = first_rv
        self.max_history = max_history
        self.objects: dict[StorageKey, dict[ObjKey, Obj]] = {k: {} for k in self.resources}
        self.history: list[StoredEvent] = []
        self.watchers: list[Watcher] = []

    # ---- writes ----------------------------------------------------------------------------------
    def _commit(self, type_: str, res: ApiResource, obj: Obj, old: Obj | None) -> Obj:
        self.rv += 1
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        store = self.objects[res.storage_key]
        if type_ == "DELETED":
            store.pop(obj_key(obj), None)
        else:
            store[obj_key(obj)] = obj
        ev = StoredEvent(self.rv, type_, res.storage_key, obj, old)
        self.history.append(ev)
        if len(self.history) > self.max_history:
            dropped = self.history[: len(self.history) - self.max_history]
            del self.history[: len(dropped)]
            self.compacted_rv = dropped[-1].rv
        for w in self.watchers:
            w.offer(ev)
        return obj

    def create(self, res: ApiResource, api_version: str, namespace: str, body: Obj) -> Obj:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        if not meta.get("name"):
            raise ApiError(422, "Invalid", f"{res.kind} \"\" is invalid: metadata.name: Required value: "
                                           "name or generateName is required")
        with self.lock:
            self._check_namespace(res, namespace, meta)
            if (namespace, meta["name"]) in self.objects[res.storage_key]:
                raise ApiError(409, "AlreadyExists",
                               f'{res.group_resource()} "{meta["name"]}" already exists',
                               {"name": meta["name"], "group": res.group, "kind": res.plural})
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
            meta.pop("resourceVersion", None)
            if res.namespaced:
                meta["namespace"] = namespace
            if res.kind == "Namespace":  # the label the real server adds to every namespace
                meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": meta["name"]}
            obj["apiVersion"], obj["kind"] = api_version, res.kind
            if res.status_subresource:
                obj["status"] = _initial_status(res.kind, body.get("status"))
            return self._commit("ADDED", res, obj, None)

    def update(self, res: ApiResource, namespace: str, name: str, change: Callable[[Obj], Obj],
               subresource: str = "") -> Obj:
        """Apply `change` to the current object atomically (PUT and PATCH both come here)."""
        with self.lock:
            old = self.get(res, namespace, name)
            new = change(copy.deepcopy(old))
            meta = new.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise bad_request("the name of the object does not match the name on the URL")
            want_rv = meta.get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on {res.group_resource()} "{name}": the '
                               "object has been modified; please apply your changes to the latest version "
                               "and try again", {"name": name, "group": res.group, "kind": res.plural})
            if subresource == "status":
                new = {**old, "status": new.get("status", {})}
            elif res.status_subresource and "status" in old:
                new["status"] = old["status"]
            elif res.status_subresource:
                new.pop("status", None)
            meta = dict(new.get("metadata") or {})
            for immutable in ("uid", "creationTimestamp", "namespace", "name", "generation"):
                if immutable in old["metadata"]:
                    meta[immutable] = old["metadata"][immutable]
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            new["metadata"] = meta
            new["apiVersion"], new["kind"] = old["apiVersion"], res.kind
            if new == old:  # a no-op write neither bumps resourceVersion nor makes an event
                return old
            if _spec_part(new) != _spec_part(old):
                new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
            return self._commit("MODIFIED", res, new, old)

    def delete(self, res: ApiResource, namespace: str, name: str, precondition_rv: str = "") -> Obj:
        with self.lock:
            old = self.get(res, namespace, name)
            if precondition_rv and precondition_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f"Precondition failed: ResourceVersion in precondition: "
                                                f"{precondition_rv}, ResourceVersion in object meta: "
                                                f"{old['metadata']['resourceVersion']}")
            if res.kind == "Namespace":
                # The namespace controller deletes everything in a namespace that goes away.
                for other in (r for r in self.resources.values() if r.namespaced):
                    for key in [k for k in self.objects[other.storage_key] if k[0] == name]:
                        gone = self.objects[other.storage_key][key]
                        self._commit("DELETED", other, gone, gone)
            return self._commit("DELETED", res, old, old)

    def compact(self) -> None:
        with self.lock:
            self.history.clear()
            self.compacted_rv = self.rv

    # ---- reads -----------------------------------------------------------------------------------
    def get(self, res: ApiResource, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects[res.storage_key].get((namespace if res.namespaced else "", name))
        if obj is None:
            raise not_found(res.plural, name, res.group)
        return obj

    def snapshot(self, res: ApiResource, at_rv: int | None) -> tuple[int, dict[ObjKey, Obj]]:
        """The resource's objects as of `at_rv` (default: now), rebuilt by undoing later events."""
        with self.lock:
            state = dict(self.objects[res.storage_key])
            if at_rv is None or at_rv >= self.rv:
                return self.rv, state
            if at_rv < self.compacted_rv:
                raise expired(f"too old resource version: {at_rv} ({self.compacted_rv})")
            for ev in reversed(self.history):
                if ev.rv <= at_rv:
                    break
                if ev.storage != res.storage_key:
                    continue
                if ev.type == "ADDED":
                    state.pop(obj_key(ev.obj), None)
                elif ev.old is not None:
                    state[obj_key(ev.old)] = ev.old
            return at_rv, state

    def watch(self, res: ApiResource, namespace: str, match: Predicate, from_rv: str) -> Watcher:
        w = Watcher(res, namespace, match)
        with self.lock:
            if from_rv in ("", "0"):
                # "Get state and start at most recent": synthetic ADDED events for what exists now.
                for obj in sorted(self.objects[res.storage_key].values(), key=obj_key):
                    if (not namespace or obj_key(obj)[0] == namespace) and match(obj):
                        w.events.put(("ADDED", obj))
            else:
                start = _parse_rv(from_rv)
                if start < self.compacted_rv:
                    raise expired(f"too old resource version: {start} ({self.compacted_rv})")
                for ev in self.history:
                    if ev.rv > start:
                        w.offer(ev)
            self.watchers.append(w)
        return w

    def bookmark(self, w: Watcher) -> None:
        """Queue a BOOKMARK at the current revision: everything up to it is already in `w`'s queue."""
        with self.lock:
            w.events.put(("BOOKMARK", {"metadata": {"resourceVersion": str(self.rv)}}))

    def forget(self, w: Watcher) -> None:
        with self.lock:
            if w in self.watchers:
                self.watchers.remove(w)

    def _check_namespace(self, res: ApiResource, namespace: str, meta: dict[str, Any]) -> None:
        if not res.namespaced:
            return
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent "
                              "on the request")
        if ("", namespace) not in self.objects[("", "namespaces")]:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                           {"name": namespace, "kind": "namespaces"})


def _parse_rv(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"invalid resource version: {text!r}") from None


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _initial_status(kind: str, sent: object = None) -> dict[str, Any]:
    # What the real registry strategies set on create (PrepareForCreate). One deliberate difference: a
    # Pod keeps the status its creator sent (podIP above all), because no kubelet runs here to assign
    # one, and a Pod without status.podIP is no workload for the mesh.
    initial: dict[str, dict[str, Any]] = {"Namespace": {"phase": "Active"}, "Pod": {"phase": "Pending"},
                                          "Service": {"loadBalancer": {}}}
    status = dict(initial.get(kind, {}))
    if kind == "Pod" and isinstance(sent, dict):
        status.update(copy.deepcopy(sent))
    return status


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
