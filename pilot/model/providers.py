"""MeshConfig `extensionProviders` and `defaultProviders`: where traces and access logs go.

The subset meshpilot translates: `zipkin`, `opentelemetry` (OTLP over gRPC) and `envoyFileAccessLog`
(https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/#MeshConfig-ExtensionProvider).
Telemetry resources name these providers; a name no provider has is left out (as istiod does).
Parsing errors are one-line `MeshConfigError`s naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KNOWN_KINDS = ("zipkin", "opentelemetry", "envoyFileAccessLog")
# Istio has more provider kinds; a mesh config naming one is accepted, the provider is unused.
OTHER_ISTIO_KINDS = ("datadog", "lightstep", "skywalking", "stackdriver", "opencensus", "prometheus",
                     "envoyExtAuthzHttp", "envoyExtAuthzGrpc", "envoyHttpAls", "envoyTcpAls", "envoyOtelAls", "sds")


class MeshConfigError(ValueError):
    """A mesh config field meshpilot cannot use; the message names the field."""


@dataclass(frozen=True)
class Collector:
    """A tracing backend reached through the mesh: `service` is a hostname or `namespace/hostname`."""

    service: str
    port: int
    path: str = ""  # zipkin only: the collector endpoint, default /api/v2/spans
    max_tag_length: int = 0


@dataclass(frozen=True)
class FileLog:
    path: str = "/dev/stdout"
    text: str | None = None  # logFormat.text
    labels: tuple[tuple[str, str], ...] | None = None  # logFormat.labels, in the order written


@dataclass(frozen=True)
class ExtensionProvider:
    name: str
    kind: str  # one of KNOWN_KINDS, or another Istio kind meshpilot does not translate
    collector: Collector | None = None
    file_log: FileLog | None = None


# In Istio's default MeshConfig: `envoy` logs to the proxy's stdout in Istio's default format.
BUILT_IN = (ExtensionProvider("prometheus", "prometheus"), ExtensionProvider("envoy", "envoyFileAccessLog",
                                                                             file_log=FileLog()))


@dataclass(frozen=True)
class TelemetryProviders:
    providers: tuple[ExtensionProvider, ...] = ()
    default_tracing: tuple[str, ...] = ()
    default_access_logging: tuple[str, ...] = ()
    default_metrics: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.providers or self.default_tracing or self.default_access_logging or self.default_metrics)

    def find(self, name: str) -> ExtensionProvider | None:
        """Istio matches provider names case-insensitively (fetchProvider uses EqualFold); the built-in
        providers of Istio's default mesh config count unless the user's list has the same names."""
        return next((p for p in self.providers + BUILT_IN if p.name.lower() == name.lower()), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TelemetryProviders:
        raw = data.get("extensionProviders") or []
        if not isinstance(raw, list):
            raise MeshConfigError("extensionProviders: must be a list")
        providers = tuple(_provider(i, p) for i, p in enumerate(raw))
        names = [p.name.lower() for p in providers]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise MeshConfigError(f"extensionProviders[{i}].name: duplicate provider name {providers[i].name!r}")
        defaults = data.get("defaultProviders") or {}
        if not isinstance(defaults, Mapping):
            raise MeshConfigError("defaultProviders: must be an object")
        return cls(providers, *(_names(defaults, k) for k in ("tracing", "accessLogging", "metrics")))


def _names(defaults: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = defaults.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MeshConfigError(f"defaultProviders.{key}: must be a list of provider names")
    return tuple(value)


def _provider(index: int, raw: Any) -> ExtensionProvider:
    where = f"extensionProviders[{index}]"
    if not isinstance(raw, Mapping):
        raise MeshConfigError(f"{where}: must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise MeshConfigError(f"{where}.name: a provider needs a name")
    kinds = [k for k in raw if k != "name"]
    if len(kinds) != 1:
        raise MeshConfigError(f"{where}: exactly one provider kind must be set, got {kinds or 'none'}")
    kind = kinds[0]
    body = raw[kind] if raw[kind] is not None else {}
    if not isinstance(body, Mapping):
        raise MeshConfigError(f"{where}.{kind}: must be an object")
    if kind in ("zipkin", "opentelemetry"):
        return ExtensionProvider(name, kind, collector=_collector(f"{where}.{kind}", kind, body))
    if kind == "envoyFileAccessLog":
        return ExtensionProvider(name, kind, file_log=_file_log(f"{where}.{kind}", body))
    if kind in OTHER_ISTIO_KINDS:
        return ExtensionProvider(name, kind)
    known = ", ".join(KNOWN_KINDS + OTHER_ISTIO_KINDS)
    raise MeshConfigError(f"{where}.{kind}: unknown provider kind (known: {known})")


def _collector(where: str, kind: str, body: Mapping[str, Any]) -> Collector:
    service, port = body.get("service"), body.get("port")
    if not isinstance(service, str) or not service:
        raise MeshConfigError(f"{where}.service: the collector's service (hostname) is required")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise MeshConfigError(f"{where}.port: must be a port number 1..65535, got {port!r}")
    if kind == "opentelemetry" and body.get("http") is not None:
        raise MeshConfigError(f"{where}.http: OTLP over HTTP is not supported by meshpilot; use gRPC (no http)")
    path = body.get("path", "") if kind == "zipkin" else ""
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise MeshConfigError(f"{where}.path: must be an absolute path such as /api/v2/spans")
    max_tag = body.get("maxTagLength", 0)
    if isinstance(max_tag, bool) or not isinstance(max_tag, int) or max_tag < 0:
        raise MeshConfigError(f"{where}.maxTagLength: must be a non-negative integer")
    return Collector(service, port, path, max_tag)


def _file_log(where: str, body: Mapping[str, Any]) -> FileLog:
    path = body.get("path") or "/dev/stdout"
    if not isinstance(path, str):
        raise MeshConfigError(f"{where}.path: must be a file path")
    fmt = body.get("logFormat")
    if fmt is None:
        return FileLog(path)
    if not isinstance(fmt, Mapping) or len([k for k in ("text", "labels") if fmt.get(k) is not None]) > 1:
        raise MeshConfigError(f"{where}.logFormat: set one of text or labels")
    text, labels = fmt.get("text"), fmt.get("labels")
    if text is not None:
        if not isinstance(text, str):
            raise MeshConfigError(f"{where}.logFormat.text: must be a string")
        return FileLog(path, text=text)
    if labels is not None:
        if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
            raise MeshConfigError(f"{where}.logFormat.labels: must map names to format strings")
        return FileLog(path, labels=tuple((str(k), v) for k, v in labels.items()))
    return FileLog(path)
