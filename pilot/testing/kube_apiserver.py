"""A fake kube-apiserver that speaks the real REST list/watch protocol, for tests with the real client.

    with FakeKubeApiServer() as api:
        api.write_kubeconfig(tmp_path / "kubeconfig")
        client = kubernetes.config.new_client_from_config(str(tmp_path / "kubeconfig"))

It serves core v1 services/pods/namespaces/secrets, discovery.k8s.io/v1 endpointslices and every
custom resource kind and version in `pilot.model.kinds.KINDS`, over HTTPS with a bearer token, with:
resourceVersion on every object and list, paginated lists (`limit`/`continue`) as consistent snapshots,
label and field selectors, watches as chunked JSON lines with BOOKMARK events and ERROR 410 for a
compacted revision, create/update/patch/delete with conflicts and a status subresource, and discovery.

Test controls: `compact()`, `cut_watches()`, `watch_outage()`, `deny()`, `uninstall_crd()`.
Not modelled: admission, schema validation of specs, graceful deletion, server-side apply, tables.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator, Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from pilot.model.kinds import KINDS, internal_kind
from pilot.testing.kubeapi import resources as api_docs
from pilot.testing.kubeapi.errors import no_such_path
from pilot.testing.kubeapi.handler import KubeApiHandler, cut
from pilot.testing.kubeapi.resources import ApiResource, default_resources
from pilot.testing.kubeapi.routes import Denial, Target
from pilot.testing.kubeapi.state import ClusterState, Obj, Watcher
from pilot.testing.tls import SelfSigned, self_signed

log = logging.getLogger(__name__)
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ssl_context: ssl.SSLContext | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fake kube-apiserver: request from %s failed", client_address, exc_info=True)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = self.socket.accept()
        if self.ssl_context is not None:
            conn = self.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr


class FakeKubeApiServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls: bool = True,
                 token: str = "meshpilot-test-token",
                 user: str = "system:serviceaccount:meshpilot:meshpilot",
                 bookmark_interval: float = 1.0, default_watch_timeout: float = 1800.0,
                 namespaces: tuple[str, ...] = DEFAULT_NAMESPACES) -> None:
        self.token, self.user = token, user
        self.bookmark_interval = bookmark_interval
        self.default_watch_timeout = default_watch_timeout
        self.resources = default_resources()
        self.state = ClusterState(self.resources)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._hidden: set[tuple[str, str, str]] = set()  # (group, plural, version) not served
        self._denials: list[Denial] = []
        self._open: dict[Watcher, socket.socket] = {}
        self._watches_allowed = threading.Event()
        self._watches_allowed.set()
        self._tls: SelfSigned | None = self_signed() if tls else None
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-kube-")
        handler = type("Handler", (KubeApiHandler,), {"api": self})
        self._server = _Server((host, port), handler)
        if self._tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self._tls.write(Path(self._tmp.name)))
            self._server.ssl_context = ctx
        self._thread: threading.Thread | None = None
        for ns in namespaces:
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # ---- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host!s}:{port}"

    def start(self) -> FakeKubeApiServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-kube-apiserver",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._watches_allowed.set()
        self.cut_watches()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._tmp.cleanup()

    def __enter__(self) -> FakeKubeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: Path, context: str = "fake", namespace: str = "default") -> Path:
        cluster: dict[str, Any] = {"server": self.url}
        if self._tls is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self._tls.cert_pem).decode()
        doc = {
            "apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context,
                                                       "namespace": namespace}}],
        }
        path.write_text(yaml.safe_dump(doc))
        return path

    # ---- test controls ---------------------------------------------------------------------------
    def compact(self) -> None:
        """Forget the event history: a watch from any earlier resourceVersion now gets 410 Expired."""
        self.state.compact()

    def cut_watches(self) -> int:
        """Drop every open watch connection mid-stream (no final chunk); returns how many."""
        with self._lock:
            victims = list(self._open.items())
        for watcher, conn in victims:
            watcher.close(cut=True)
            cut(conn)
        return len(victims)

    @contextlib.contextmanager
    def watch_outage(self) -> Iterator[None]:
        """Cut open watches and hold new ones until the block ends: changes made (and `compact()`
        called) inside the block are what a disconnected client misses."""
        self._watches_allowed.clear()
        try:
            self.cut_watches()
            yield
        finally:
            self._watches_allowed.set()

    def deny(self, plural: str, verb: str | None = None, namespace: str | None = None) -> None:
        """Refuse `verb` (default: every verb) on `plural` with 403, as RBAC would."""
        self._denials.append(Denial(plural, self._resource(plural).group, verb, namespace))

    def allow_all(self) -> None:
        self._denials.clear()

    def uninstall_crd(self, kind: str, versions: tuple[str, ...] | None = None) -> None:
        """Stop serving `versions` (default: all) of a kind; with none left, its objects are deleted."""
        res = self._kind(kind)
        with self._lock:
            self._hidden |= {(res.group, res.plural, v) for v in versions or res.versions}
            gone = all((res.group, res.plural, v) in self._hidden for v in res.versions)
        if gone:
            for obj in list(self.state.objects[res.storage_key].values()):
                meta = obj["metadata"]
                self.state.delete(res, meta.get("namespace", ""), meta["name"])

    def install_crd(self, kind: str) -> None:
        res = self._kind(kind)
        with self._lock:
            self._hidden -= {(res.group, res.plural, v) for v in res.versions}

    # ---- direct object access (no HTTP) ----------------------------------------------------------
    def apply(self, doc: Mapping[str, Any]) -> Obj:
        """Create or replace an object (by kind, namespace, name); returns what is stored."""
        res = self._kind(internal_kind(str(doc.get("apiVersion", "")), str(doc["kind"])))
        meta = doc.get("metadata") or {}
        ns = str(meta.get("namespace") or "default") if res.namespaced else ""
        body = dict(doc)
        if str(meta.get("name")) in {k[1] for k in self.state.objects[res.storage_key] if k[0] == ns}:
            replaced = self.state.update(res, ns, str(meta["name"]), lambda old: body)
            if "status" in doc and res.status_subresource:
                replaced = self.state.update(res, ns, str(meta["name"]), lambda old: body, "status")
            return replaced
        created = self.state.create(res, str(doc["apiVersion"]), ns, body)
        if doc.get("status") and res.status_subresource:
            created = self.state.update(res, ns, str(meta["name"]), lambda old: body, "status")
        return created

    def remove(self, kind: str, namespace: str, name: str) -> Obj:
        res = self._kind(kind)
        return self.state.delete(res, namespace if res.namespaced else "", name)

    # ---- used by the handler ---------------------------------------------------------------------
    def _resource(self, plural: str) -> ApiResource:
        return next(r for r in self.resources if r.plural == plural)

    def _kind(self, kind: str) -> ApiResource:
        """By meshpilot's kind name (`KnativeService`: Knative's `services`, not the core ones)."""
        info = KINDS[kind]
        return next(r for r in self.resources if r.plural == info.plural and r.group == info.group)

    def served(self) -> dict[tuple[str, str], dict[str, ApiResource]]:
        out: dict[tuple[str, str], dict[str, ApiResource]] = {}
        with self._lock:
            for r in self.resources:
                for v in r.versions:
                    if (r.group, r.plural, v) not in self._hidden:
                        out.setdefault((r.group, v), {})[r.plural] = r
        return out

    def discovery(self, parts: tuple[str, ...]) -> dict[str, Any]:
        served = self.served()
        if parts == ("api",):
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.url.split("://", 1)[1]}]}
        if parts[0] == "api":
            return api_docs.api_resource_list("v1", served[("", parts[1])].values())
        groups: dict[str, list[str]] = {}
        for r in self.resources:  # KINDS order lists the preferred (newest) version first
            for v in r.versions:
                if r.group and (r.group, v) in served and v not in groups.setdefault(r.group, []):
                    groups[r.group].append(v)
        groups = {g: vs for g, vs in groups.items() if vs}
        if parts == ("apis",):
            return {"kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [api_docs.api_group(g, vs) for g, vs in groups.items()]}
        if len(parts) == 2:
            if parts[1] not in groups:
                raise no_such_path()
            return api_docs.api_group(parts[1], groups[parts[1]])
        return api_docs.api_resource_list(f"{parts[1]}/{parts[2]}", served[(parts[1], parts[2])].values())

    def version_info(self) -> dict[str, str]:
        return {"major": "1", "minor": "31", "gitVersion": "v1.31.0-meshpilot-fake",
                "gitCommit": "0" * 40, "gitTreeState": "clean", "buildDate": "2024-08-13T07:28:49Z",
                "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}

    def denial_for(self, target: Target) -> Denial | None:
        return next((d for d in self._denials if d.covers(target)), None)

    def record(self, method: str, path: str, query: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, path, query))

    def wait_for_watch_outage_to_end(self) -> None:
        self._watches_allowed.wait()

    def opened(self, watcher: Watcher, conn: socket.socket) -> None:
        with self._lock:
            self._open[watcher] = conn

    def closed(self, watcher: Watcher) -> None:
        self.state.forget(watcher)
        with self._lock:
            self._open.pop(watcher, None)

    @property
    def open_watches(self) -> int:
        with self._lock:
            return len(self._open)
