"""HTTP handling for the fake API server: list, watch (chunked JSON lines), get, create, update,
patch and delete, with the status codes and `Status` bodies of the real server."""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from pilot.testing.kubeapi import patch as patches
from pilot.testing.kubeapi.errors import ApiError, bad_request, expired
from pilot.testing.kubeapi.routes import Discovery, Target, forbidden, is_true, parse
from pilot.testing.kubeapi.selectors import SelectorError, parse_field_selector, parse_label_selector
from pilot.testing.kubeapi.state import Obj, Watcher

if TYPE_CHECKING:
    from pilot.testing.kube_apiserver import FakeKubeApiServer


class KubeApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked transfer for watches
    api: FakeKubeApiServer  # set on the subclass the server builds

    def setup(self) -> None:
        super().setup()
        handshake = getattr(self.request, "do_handshake", None)
        if handshake is not None:  # TLS handshake in this thread, not in the accept loop
            self.request.settimeout(10)
            handshake()
            self.request.settimeout(None)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- dispatch --------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._read_body()
        try:
            if url.path.rstrip("/") == "/version":
                self._send(200, self.api.version_info())
                return
            if self.headers.get("Authorization") != f"Bearer {self.api.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            target = parse(method, url.path, query, self.api.served())
            self.api.record(method, url.path, query)
            if isinstance(target, Discovery):
                self._send(200, self.api.discovery(target.parts))
                return
            denial = self.api.denial_for(target)
            if denial:
                raise forbidden(target, self.api.user)
            getattr(self, f"_{target.verb}")(target, query, body)
        except ApiError as e:
            self._send(e.code, e.status())

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except ValueError as e:
            raise bad_request(f"the body of the request could not be decoded: {e}") from None

    def _render(self, t: Target, obj: Obj) -> Obj:
        return {**obj, "apiVersion": t.resource.api_version(t.version)}

    # ---- verbs -----------------------------------------------------------------------------------
    def _get(self, t: Target, query: dict[str, str], body: bytes) -> None:
        obj = self.api.state.get(t.resource, t.namespace, t.name)
        self._send(200, self._render(t, obj))

    def _selector(self, t: Target, query: dict[str, str]) -> Any:
        try:
            labels = parse_label_selector(query.get("labelSelector"))
            fields = parse_field_selector(query.get("fieldSelector"), t.resource.field_labels)
        except SelectorError as e:
            raise bad_request(str(e)) from None
        return lambda obj: labels(obj) and fields(obj)

    def _list(self, t: Target, query: dict[str, str], body: bytes) -> None:
        match = self._selector(t, query)
        at_rv, start = None, ""
        if query.get("continue"):
            at_rv, start = _decode_continue(query["continue"])
        elif query.get("resourceVersionMatch") == "Exact":
            at_rv = int(query.get("resourceVersion") or 0)
        if at_rv is not None and at_rv < self.api.state.compacted_rv and query.get("continue"):
            raise expired("The provided continue parameter is too old to display a consistent list "
                          "result. You can start a new list without the continue parameter.")
        rv, snapshot = self.api.state.snapshot(t.resource, at_rv)
        keys = sorted(k for k, o in snapshot.items()
                      if (not t.namespace or k[0] == t.namespace) and k > _split_key(start) and match(o))
        limit = int(query.get("limit") or 0)
        page = keys[:limit] if limit > 0 else keys
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if len(page) < len(keys):
            meta["continue"] = _encode_continue(rv, page[-1])
            if not query.get("labelSelector") and not query.get("fieldSelector"):
                meta["remainingItemCount"] = len(keys) - len(page)
        # Items of built-in lists carry no kind/apiVersion; custom resources keep theirs.
        items = [self._render(t, snapshot[k]) if not t.resource.builtin
                 else {k2: v for k2, v in snapshot[k].items() if k2 not in ("kind", "apiVersion")}
                 for k in page]
        self._send(200, {"kind": f"{t.resource.kind}List", "apiVersion": t.resource.api_version(t.version),
                         "metadata": meta, "items": items})

    def _create(self, t: Target, query: dict[str, str], body: bytes) -> None:
        doc = self._json(body)
        if not isinstance(doc, dict):
            raise bad_request("the body of the request must be an object")
        obj = self.api.state.create(t.resource, t.resource.api_version(t.version), t.namespace, doc)
        self._send(201, self._render(t, obj))

    def _update(self, t: Target, query: dict[str, str], body: bytes) -> None:
        doc = self._json(body)
        if not isinstance(doc, dict):
            raise bad_request("the body of the request must be an object")
        if not t.resource.unconditional_update and not (doc.get("metadata") or {}).get("resourceVersion"):
            raise ApiError(422, "Invalid", f'{t.resource.kind} "{t.name}" is invalid: metadata.resourceVersion: '
                                           "Invalid value: 0x0: must be specified for an update")
        obj = self.api.state.update(t.resource, t.namespace, t.name, lambda old: doc, t.subresource)
        self._send(200, self._render(t, obj))

    def _patch(self, t: Target, query: dict[str, str], body: bytes) -> None:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        doc = self._json(body)
        apply: Callable[[Any, Any], Any]
        if ctype == patches.JSON_PATCH:
            apply = patches.json_patch
        elif ctype == patches.MERGE_PATCH or (ctype == patches.STRATEGIC_MERGE_PATCH and t.resource.builtin):
            # Strategic merge is served as a merge patch: lists are replaced, not merged by key.
            apply = patches.merge_patch
        else:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media types "
                           f"include: {patches.JSON_PATCH}, {patches.MERGE_PATCH}")

        def change(old: Obj) -> Obj:
            try:
                new = apply(old, doc)
            except (patches.PatchError, ValueError, IndexError, KeyError) as e:
                raise ApiError(422, "Invalid", f"the patch could not be applied: {e}") from None
            if not isinstance(new, dict):
                raise bad_request("the patch must produce an object")
            return new
        obj = self.api.state.update(t.resource, t.namespace, t.name, change, t.subresource)
        self._send(200, self._render(t, obj))

    def _delete(self, t: Target, query: dict[str, str], body: bytes) -> None:
        opts = self._json(body) or {}
        pre = str(((opts.get("preconditions") or {}) if isinstance(opts, dict) else {}).get("resourceVersion")
                  or "")
        obj = self.api.state.delete(t.resource, t.namespace, t.name, pre)
        self._send(200, self._render(t, obj))

    # ---- watch -----------------------------------------------------------------------------------
    def _watch(self, t: Target, query: dict[str, str], body: bytes) -> None:
        match = self._selector(t, query)
        self.api.wait_for_watch_outage_to_end()
        timeout = float(query.get("timeoutSeconds") or self.api.default_watch_timeout)
        bookmarks = is_true(query.get("allowWatchBookmarks"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            watcher = self.api.state.watch(t.resource, t.namespace, match, query.get("resourceVersion", ""))
        except ApiError as e:
            # A too-old resourceVersion is reported inside the stream, as the watch cache does.
            self._chunk({"type": "ERROR", "object": e.status()})
            self._chunk(None)
            return
        self.api.opened(watcher, self.connection)
        try:
            if self._stream(t, watcher, timeout, bookmarks):
                self._chunk(None)
            else:
                self.close_connection = True
        except OSError:
            self.close_connection = True
        finally:
            self.api.closed(watcher)

    def _stream(self, t: Target, w: Watcher, timeout: float, bookmarks: bool) -> bool:
        """Send events until the timeout (True: end cleanly) or a cut (False: drop the connection)."""
        deadline = time.monotonic() + timeout
        interval = self.api.bookmark_interval
        next_bookmark = time.monotonic() + interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                if bookmarks:  # a last bookmark so the client resumes from a fresh revision
                    self.api.state.bookmark(w)
                    self._drain(t, w)
                return True
            try:
                item = w.events.get(timeout=max(0.0, min(deadline, next_bookmark) - now))
            except queue.Empty:
                if bookmarks and time.monotonic() >= next_bookmark:
                    self.api.state.bookmark(w)
                    next_bookmark = time.monotonic() + interval
                continue
            if item is None:
                return not w.cut
            self._event(t, *item)

    def _drain(self, t: Target, w: Watcher) -> None:
        while True:
            try:
                item = w.events.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._event(t, *item)

    def _event(self, t: Target, type_: str, obj: Obj) -> None:
        if type_ == "BOOKMARK":
            obj = {"kind": t.resource.kind, **obj}
        self._chunk({"type": type_, "object": self._render(t, obj)})

    def _chunk(self, event: dict[str, Any] | None) -> None:
        if event is None:
            self.wfile.write(b"0\r\n\r\n")
            return
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def cut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def _encode_continue(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{last[0]}/{last[1]}\x00"})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion") from None


def _split_key(start: str) -> tuple[str, str]:
    """The (namespace, name) a continue token resumes after ("" sorts before every key)."""
    if not start:
        return ("", "")
    ns, _, name = start.rstrip("\x00").partition("/")
    return (ns, name)


__all__ = ["KubeApiHandler", "cut"]
