"""Turn a patch `value` written in YAML/JSON into a protobuf message of the type it patches.

`@type` inside a value (typed_config, typed_per_filter_config, ...) resolves through the protobuf symbol
database, so every Envoy type a user may name must have been imported once; `KNOWN_MODULES` are the
extensions users reach for in EnvoyFilters. `udpa.type.v1.TypedStruct` / `xds.type.v3.TypedStruct`
(what Istio's rate-limit task writes) is unwrapped into the concrete type, so its contents are checked
here instead of by Envoy (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/extension.proto).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from pilot.translate.pb import repack_anys

KNOWN_MODULES = (
    "envoy.config.cluster.v3.cluster_pb2",
    "envoy.config.listener.v3.listener_pb2",
    "envoy.config.route.v3.route_pb2",
    "envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2",
    "envoy.extensions.filters.network.tcp_proxy.v3.tcp_proxy_pb2",
    "envoy.extensions.filters.network.local_ratelimit.v3.local_rate_limit_pb2",
    "envoy.extensions.filters.network.ratelimit.v3.rate_limit_pb2",
    "envoy.extensions.filters.network.rbac.v3.rbac_pb2",
    "envoy.extensions.filters.http.local_ratelimit.v3.local_rate_limit_pb2",
    "envoy.extensions.filters.http.ratelimit.v3.rate_limit_pb2",
    "envoy.extensions.filters.http.router.v3.router_pb2",
    "envoy.extensions.filters.http.fault.v3.fault_pb2",
    "envoy.extensions.filters.http.cors.v3.cors_pb2",
    "envoy.extensions.filters.http.rbac.v3.rbac_pb2",
    "envoy.extensions.filters.http.lua.v3.lua_pb2",
    "envoy.extensions.filters.http.buffer.v3.buffer_pb2",
    "envoy.extensions.filters.http.header_to_metadata.v3.header_to_metadata_pb2",
    "envoy.extensions.filters.http.header_mutation.v3.header_mutation_pb2",
    "envoy.extensions.filters.http.ext_authz.v3.ext_authz_pb2",
    "envoy.extensions.filters.http.compressor.v3.compressor_pb2",
    "envoy.extensions.compression.gzip.compressor.v3.gzip_pb2",
    "envoy.extensions.upstreams.http.v3.http_protocol_options_pb2",
    "envoy.extensions.transport_sockets.tls.v3.tls_pb2",
    "udpa.type.v1.typed_struct_pb2",
    "xds.type.v3.typed_struct_pb2",
)

TYPED_STRUCTS = frozenset({"type.googleapis.com/udpa.type.v1.TypedStruct",
                           "type.googleapis.com/xds.type.v3.TypedStruct"})

M = TypeVar("M", bound=Message)


class PatchValueError(ValueError):
    """The value cannot become the message it patches: unknown `@type`, unknown field, wrong shape."""


@functools.cache
def register_known_types() -> None:
    for name in KNOWN_MODULES:
        importlib.import_module(name)


def unwrap_typed_structs(value: Any) -> Any:
    """Replace every TypedStruct by `{"@type": type_url, **value}`, recursively."""
    if isinstance(value, Mapping):
        if value.get("@type") in TYPED_STRUCTS:
            inner = value.get("value") or {}
            if not isinstance(inner, Mapping) or not value.get("type_url", value.get("typeUrl")):
                raise PatchValueError("TypedStruct needs type_url and a value object")
            return {"@type": value.get("type_url", value.get("typeUrl")), **unwrap_typed_structs(inner)}
        return {str(k): unwrap_typed_structs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_typed_structs(v) for v in value]
    return value


def to_message(value: Any, cls: type[M]) -> M:
    """Parse `value` into a new `cls`; any problem is a PatchValueError naming what was wrong."""
    register_known_types()
    if not isinstance(value, Mapping):
        raise PatchValueError(f"value must be an object for {cls.DESCRIPTOR.full_name}")
    try:
        return repack_anys(json_format.ParseDict(unwrap_typed_structs(value), cls()))  # type: ignore[return-value]
    except (json_format.ParseError, TypeError, ValueError, KeyError) as exc:
        raise PatchValueError(f"{cls.DESCRIPTOR.full_name}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc)
    if "Can not find message descriptor by type_url" in text:
        return "unknown @type " + text.rsplit(":", 1)[-1].strip().rstrip(".")
    return text[:300]
