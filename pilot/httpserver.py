"""A tiny asyncio HTTP/1.1 server for the monitoring port: /ready, /metrics, /debug/*.

Deliberately minimal (GET only, Connection: close) so the control plane needs no web framework.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"

    @classmethod
    def json(cls, data: object, status: int = 200) -> Response:
        return cls(status, json.dumps(data, indent=2, sort_keys=True).encode(), "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode())


Handler = Callable[[dict[str, list[str]]], Response | Awaitable[Response]]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}


class HttpServer:
    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self._server: asyncio.Server | None = None

    async def start(self, address: str) -> int:
        host, _, port = address.rpartition(":")
        self._server = await asyncio.start_server(self._handle, host or "127.0.0.1", int(port))
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            url = urlsplit(target)
            handler = self.routes.get(url.path)
            if method != "GET":
                resp = Response.text("only GET\n", 405)
            elif handler is None:
                resp = Response.text("not found; try " + ", ".join(sorted(self.routes)) + "\n", 404)
            else:
                out = handler(parse_qs(url.query))
                resp = await out if asyncio.iscoroutine(out) else out  # type: ignore[assignment]
        except (asyncio.IncompleteReadError, TimeoutError, ValueError, ConnectionError):
            writer.close()
            return
        except Exception:
            log.exception("debug handler failed")
            resp = Response.text("internal error\n", 500)
        assert isinstance(resp, Response)
        writer.write(f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'OK')}\r\n"
                     f"Content-Type: {resp.content_type}\r\nContent-Length: {len(resp.body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + resp.body)
        try:
            await writer.drain()
        finally:
            writer.close()
