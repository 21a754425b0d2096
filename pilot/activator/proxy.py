"""The activator's HTTP/1.1 face (aiohttp): find the revision, hold or forward, answer 404/503 plainly.

The revision comes from the headers the route sets (`Knative-Serving-Revision`/`-Namespace`), or else
from a Host `{rev}.{ns}.svc...`, as Knative's activator reads them. Forwarded requests go straight to
the pod with `K-Proxy-Request: activator`; the revision headers are dropped (Knative strips them too).
A forward that cannot connect was never delivered, so it goes back to waiting for another pod.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from pilot.activator.core import Activator, Key, UnknownRevision
from pilot.activator.hold import HoldTimeout, QueueFull

log = logging.getLogger(__name__)

REVISION_HEADER = "Knative-Serving-Revision"
NAMESPACE_HEADER = "Knative-Serving-Namespace"
PROXY_HEADER = "K-Proxy-Request"
PROBE_HEADER = "K-Network-Probe"
# RFC 9110 §7.6.1 connection-specific fields, plus the length/framing aiohttp recomputes.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "proxy-authenticate", "proxy-authorization", "content-length"})
_DROPPED = HOP_BY_HOP | {REVISION_HEADER.lower(), NAMESPACE_HEADER.lower()}


def revision_key(headers: Mapping[str, str], host: str) -> Key | None:
    rev, ns = headers.get(REVISION_HEADER, ""), headers.get(NAMESPACE_HEADER, "")
    if rev and ns:
        return ns, rev
    labels = host.rsplit(":", 1)[0].split(".") if host else []
    if len(labels) >= 3 and labels[2] == "svc" and labels[0] and labels[1]:
        return labels[1], labels[0]
    return None


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


class ActivatorProxy:
    def __init__(self, activator: Activator) -> None:
        self.activator = activator
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self, address: str) -> int:
        """Listen on HOST:PORT (port 0 picks one); returns the bound port."""
        host, _, port = address.rpartition(":")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host or "127.0.0.1", int(port), reuse_address=True)
        await site.start()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=10_000), auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=2))
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else int(port)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get(PROBE_HEADER) == "activator":
            return _text(200, "activator")  # Knative's probe that the network reaches the activator
        key = revision_key(request.headers, request.host)
        if key is None:
            self.activator.metrics.request("", "not_found")
            return _text(404, f"no {REVISION_HEADER}/{NAMESPACE_HEADER} headers and Host {request.host!r} "
                              "names no revision")
        label = f"{key[0]}/{key[1]}"
        deadline = time.monotonic() + self.activator.timeout
        body = await request.read()
        while True:
            try:
                pod = await self.activator.route(key, deadline)
            except UnknownRevision as exc:
                self.activator.metrics.request(label, "not_found")
                return _text(404, str(exc))
            except QueueFull as exc:
                self.activator.metrics.request(label, "queue_full")
                return _text(503, f"activator queue for revision {label} is full ({exc})")
            except HoldTimeout:
                self.activator.metrics.request(label, "timed_out")
                return _text(503, f"revision {label} did not become ready within {self.activator.timeout:g} s")
            url = f"http://{pod.address}:{pod.port}{request.path_qs}"
            self.activator.started(key)
            try:
                return await self._forward(request, url, body, label)
            except aiohttp.ClientConnectorError as exc:
                log.info("activator: %s unreachable for %s (%s); waiting for another pod", url, label, exc)
                self.activator.unreachable(key, pod)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.activator.metrics.request(label, "upstream_error")
                return _text(502, f"revision {label}: pod {pod.address}:{pod.port} failed: {exc}")
            finally:
                self.activator.finished(key)

    async def _forward(self, request: web.Request, url: str, body: bytes, label: str) -> web.Response:
        assert self._session is not None
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _DROPPED)
        headers[PROXY_HEADER] = "activator"
        async with self._session.request(request.method, url, headers=headers, data=body or None,
                                         allow_redirects=False) as resp:
            payload = await resp.read()
            out = CIMultiDict((k, v) for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP)
        self.activator.metrics.request(label, "served")
        return web.Response(status=resp.status, body=payload, headers=out)
