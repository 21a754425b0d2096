"""Responses the stream state machines produce, and their wire encoding.

The server writes these objects directly; gRPC calls `encode` as the response serialiser. Encoding
splices in each resource's Any bytes that the cache serialised once, so pushing the same resource to a
thousand proxies does not copy and re-serialise it a thousand times.
Field numbers: envoy/service/discovery/v3/discovery.proto.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from envoy.service.discovery.v3 import discovery_pb2

from pilot.xds.cache import CachedResource


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings, bytes and embedded messages."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _text(number: int, value: str) -> bytes:
    return _field(number, value.encode()) if value else b""


@dataclass(frozen=True, slots=True)
class SotwResponse:
    """A DiscoveryResponse: version_info is the type's version for this node."""

    type_url: str
    version: str
    nonce: str
    resources: Sequence[CachedResource]

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.resources]

    def encode(self) -> bytes:
        parts = [_text(1, self.version)]
        parts.extend(_field(2, r.serialized) for r in self.resources)
        parts.append(_text(4, self.type_url))
        parts.append(_text(5, self.nonce))
        return b"".join(parts)

    def to_proto(self) -> discovery_pb2.DiscoveryResponse:
        return discovery_pb2.DiscoveryResponse.FromString(self.encode())


@dataclass(frozen=True, slots=True)
class DeltaResponse:
    """A DeltaDiscoveryResponse: per-resource versions, explicit removals."""

    type_url: str
    system_version: str
    nonce: str
    resources: Sequence[CachedResource]
    removed: Sequence[str]

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.resources]

    def encode(self) -> bytes:
        parts = [_text(1, self.system_version)]
        for r in self.resources:
            # Resource: version = 1, resource = 2, name = 3.
            parts.append(_field(2, _text(1, r.version) + _field(2, r.serialized) + _text(3, r.name)))
        parts.append(_text(4, self.type_url))
        parts.append(_text(5, self.nonce))
        parts.extend(_field(6, name.encode()) for name in self.removed)
        return b"".join(parts)

    def to_proto(self) -> discovery_pb2.DeltaDiscoveryResponse:
        return discovery_pb2.DeltaDiscoveryResponse.FromString(self.encode())


def serialize_response(response: object) -> bytes:
    """gRPC response serialiser: our responses encode themselves; protobuf messages are accepted too."""
    if isinstance(response, SotwResponse | DeltaResponse):
        return response.encode()
    return response.SerializeToString()  # type: ignore[attr-defined]
