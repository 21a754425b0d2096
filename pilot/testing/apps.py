"""Tiny HTTP apps that answer with their name and version: the upstreams of tests and `pilot demo`.

Run several in one process: `python -m pilot.testing.apps reviews:v1@127.10.0.21:8080 ...`.
Every response is JSON: service, version, pod, the path and headers seen. Special paths:
`/status/<code>` answers that code, `/delay/<ms>` sleeps first, `/__requests` lists recorded requests,
`/__reset` clears them. Query parameters on any path shape the answer, so one route can carry them:
`delay=<ms>` sleeps first; `status=<code>` answers that code; `only=<version>` limits `status` (and
`/status/<code>`) to that version, the others answer 200; `fail_first=<n>` makes the first n requests
with this exact path and query answer `fail_code` (default 503), and `slow_first=<n>` limits `delay` to
the first n of them: that is how tests see retries.

A spec starting with `tcp:` (`tcp:echo:v1@127.10.0.50:9000/pod`) starts a TCP echo server instead: each
line received is answered with one JSON line naming service, version and pod, and echoing the line.
"""

from __future__ import annotations

import json
import socketserver
import sys
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AppState:
    def __init__(self, service: str, version: str, pod: str) -> None:
        self.service, self.version, self.pod = service, version, pod
        self.requests: list[dict[str, Any]] = []
        self.seen_paths: Counter[str] = Counter()
        self.lock = threading.Lock()

    def plan(self, path: str) -> tuple[int, int]:
        """(status, delay in ms) for one request, from the path and its query (see above)."""
        route, _, query = path.partition("?")
        q = dict(urllib.parse.parse_qsl(query))
        status = int(route.split("/")[2]) if route.startswith("/status/") else int(q.get("status", 200))
        if q.get("only") and q["only"] != self.version:
            status = 200
        delay = int(route.split("/")[2]) if route.startswith("/delay/") else int(q.get("delay", 0))
        with self.lock:
            self.seen_paths[path] += 1
            nth = self.seen_paths[path]
        if nth <= int(q.get("fail_first", 0)):
            status = int(q.get("fail_code", 503))
        if "slow_first" in q and nth > int(q["slow_first"]):
            delay = 0
        return status, delay


def make_handler(state: AppState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Without TCP_NODELAY, keep-alive through Envoy costs ~40 ms per request (testing.md).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body_in = self.rfile.read(length) if length else b""
            path = self.path
            if path == "/__requests":
                with state.lock:
                    return self._send(200, {"requests": list(state.requests)})
            if path == "/__reset":
                with state.lock:
                    state.requests.clear()
                    state.seen_paths.clear()
                return self._send(200, {"reset": True})
            # A repeated header (e.g. appended by a route) is joined with ", " as HTTP allows.
            headers: dict[str, str] = {}
            for k, v in self.headers.items():
                headers[k.lower()] = f"{headers[k.lower()]}, {v}" if k.lower() in headers else v
            record = {"method": self.command, "path": path, "headers": headers,
                      "client": self.client_address[0], "body": body_in.decode("utf-8", "replace")}
            with state.lock:
                state.requests.append(record)
                if len(state.requests) > 10000:
                    del state.requests[:5000]
            status, delay = state.plan(path)
            if delay:
                time.sleep(delay / 1000)
            self._send(status, {"service": state.service, "version": state.version, "pod": state.pod,
                                "path": path, "method": self.command, "headers": record["headers"],
                                "client": record["client"]})

        def _send(self, status: int, data: dict[str, Any]) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("x-app", f"{state.service}-{state.version}")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

    return Handler


class _TcpEchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_tcp_handler(state: AppState) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                reply = {"service": state.service, "version": state.version, "pod": state.pod,
                         "echo": line.decode("utf-8", "replace").rstrip("\n"),
                         "client": self.client_address[0]}
                self.wfile.write(json.dumps(reply).encode() + b"\n")
                self.wfile.flush()

    return Handler


def serve(spec: str) -> socketserver.TCPServer:
    """`service:version@ip:port[/pod]` (HTTP), or `tcp:service:version@ip:port[/pod]` (TCP echo)."""
    tcp = spec.startswith("tcp:")
    spec = spec.removeprefix("tcp:")
    who, _, where = spec.partition("@")
    service, _, version = who.partition(":")
    addr, _, pod = where.partition("/")
    ip, _, port = addr.rpartition(":")
    state = AppState(service, version, pod or service)
    server: socketserver.TCPServer
    if tcp:
        server = _TcpEchoServer((ip, int(port)), make_tcp_handler(state))
    else:
        server = ThreadingHTTPServer((ip, int(port)), make_handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str]) -> int:
    servers = [serve(s) for s in argv]
    print("ready", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
