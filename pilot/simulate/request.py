"""A synthetic HTTP request as the simulator walks it: URL parts, method, headers, client pod."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class RequestError(ValueError):
    pass


@dataclass(frozen=True)
class Request:
    """`host` is the Host header as the app sends it (with `:port` only when the URL had one)."""

    scheme: str
    host: str
    port: int
    path: str  # path only, no query
    query: str = ""
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    @classmethod
    def from_url(cls, url: str, method: str = "GET", headers: Mapping[str, str] | None = None) -> Request:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if not parts.hostname:
            raise RequestError(f"URL {url!r} has no host")
        scheme = parts.scheme.lower()
        try:
            explicit_port = parts.port
        except ValueError as exc:
            raise RequestError(f"URL {url!r}: {exc}") from exc
        port = explicit_port or DEFAULT_PORTS.get(scheme, 80)
        lowered = {k.lower(): str(v) for k, v in (headers or {}).items()}
        host = lowered.pop("host", "") or (parts.netloc.rsplit("@", 1)[-1])
        return cls(scheme=scheme, host=host, port=port, path=parts.path or "/", query=parts.query,
                   method=method.upper(), headers=lowered)

    @property
    def path_and_query(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def host_without_port(self) -> str:
        host = self.host
        if host.startswith("["):
            return host.split("]")[0] + "]"
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    def query_params(self) -> dict[str, str]:
        """First value of each parameter, as Envoy's route matcher sees it."""
        out: dict[str, str] = {}
        for k, v in parse_qsl(self.query, keep_blank_values=True):
            out.setdefault(k, v)
        return out

    def header_map(self) -> dict[str, str]:
        """Headers including the HTTP/2 pseudo-headers Envoy matches on."""
        return {**self.headers, ":method": self.method, ":authority": self.host, ":scheme": self.scheme,
                ":path": self.path_and_query, "host": self.host}


def parse_header(text: str) -> tuple[str, str]:
    """`Name: value` (curl's -H syntax)."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise RequestError(f"header {text!r} must look like 'Name: value'")
    return name.strip().lower(), value.strip()
