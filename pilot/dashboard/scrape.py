"""Scrape the sidecars' Prometheus endpoints concurrently, each with a deadline.

Istio sidecars serve their stats on `:15090/stats/prometheus`
(https://istio.io/latest/docs/ops/deployment/application-requirements/#ports-used-by-istio), ours on the
proxy's admin IP (docs/telemetry-metrics.md). The target list comes from the connected proxies' node ids
(`sidecar~<pod IP>~...`): on the loopback mesh the admin IP follows from the pod IP as `pilot bootstrap`
lays it out; elsewhere the pod IP is the address other machines reach.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pilot.dashboard.prom_text import parse
from pilot.dashboard.rates import RequestKey, Scrape, request_counters

MAX_BODY = 32 << 20  # a sidecar's full stats are ~1 MB; anything far larger is not a stats page


@dataclass(frozen=True)
class Target:
    name: str  # the proxy's node id
    host: str
    port: int
    path: str = "/stats/prometheus"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"


@dataclass
class ScrapeResult:
    scrape: Scrape
    errors: dict[str, str] = field(default_factory=dict)  # target name -> why it gave nothing


def targets_of(node_ids: Sequence[str], port: int, path: str = "/stats/prometheus") -> list[Target]:
    out = []
    for node in node_ids:
        parts = node.split("~")
        if len(parts) == 4 and parts[1]:
            out.append(Target(node, stats_host(parts[1]), port, path))
    return out


def stats_host(pod_ip: str) -> str:
    from pilot.bootstrap import _admin_ip  # the one place that knows the loopback layout

    admin = _admin_ip(pod_ip)
    return admin if admin != "127.0.0.1" else pod_ip


async def fetch(target: Target, timeout: float) -> str:
    """GET the target's stats page. HTTP/1.1 with `Connection: close`: Envoy's listeners answer HTTP/1.0
    with 426, and the admin page comes chunked."""
    async def get() -> bytes:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        try:
            writer.write(f"GET {target.path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
                         "Connection: close\r\n\r\n".encode())
            await writer.drain()
            chunks: list[bytes] = []
            size = 0
            while chunk := await reader.read(1 << 16):
                size += len(chunk)
                if size > MAX_BODY:
                    raise OSError(f"more than {MAX_BODY} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            writer.close()

    return http_body(await asyncio.wait_for(get(), timeout)).decode(errors="replace")


def http_body(raw: bytes) -> bytes:
    """The body of a whole HTTP/1.1 response (read to connection close); OSError unless 200."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or status[1] != "200":
        raise OSError(f"answered {' '.join(status[1:]) or 'nothing'}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _dechunk(body)
    if "content-length" in headers:
        return body[:int(headers["content-length"])]
    return body


def _dechunk(body: bytes) -> bytes:
    """https://www.rfc-editor.org/rfc/rfc9112#section-7.1: size in hex (extensions after ';'), CRLF, data."""
    out: list[bytes] = []
    i = 0
    while True:
        eol = body.find(b"\r\n", i)
        if eol == -1:
            raise OSError("truncated chunked body")
        size = int(body[i:eol].split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            return b"".join(out)
        out.append(body[eol + 2:eol + 2 + size])
        if len(out[-1]) < size:
            raise OSError("truncated chunked body")
        i = eol + 2 + size + 2


async def scrape_all(targets: Sequence[Target], metric: str, domain_suffix: str,
                     timeout: float = 1.0, clock: Callable[[], float] = time.monotonic) -> ScrapeResult:
    started = clock()
    pages = await asyncio.gather(*(fetch(t, timeout) for t in targets), return_exceptions=True)
    counters: dict[str, dict[RequestKey, float]] = {}
    errors: dict[str, str] = {}
    texts: dict[str, str] = {}
    for t, page in zip(targets, pages, strict=True):
        if isinstance(page, BaseException):
            errors[t.name] = f"{t.url}: {type(page).__name__} {page}".strip()
        else:
            texts[t.name] = page

    def parse_all() -> None:  # in a thread: a big page must not stall the xDS event loop for long
        for name, text in texts.items():
            counters[name] = request_counters(parse(text, [metric]), domain_suffix)

    await asyncio.to_thread(parse_all)
    return ScrapeResult(Scrape(started, counters), errors)
