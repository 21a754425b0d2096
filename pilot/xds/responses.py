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
from pilot.xds.wire import length_delimited, text_field


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
        parts = [text_field(1, self.version)]
        parts.extend(r.framed for r in self.resources)
        parts.append(text_field(4, self.type_url))
        parts.append(text_field(5, self.nonce))
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
        parts = [text_field(1, self.system_version)]
        for r in self.resources:
            # Resource: version = 1, resource = 2 (already framed), name = 3; framed once in the cache.
            parts.extend((r.delta_head, r.framed, r.delta_tail))
        parts.append(text_field(4, self.type_url))
        parts.append(text_field(5, self.nonce))
        parts.extend(length_delimited(6, name.encode()) for name in self.removed)
        return b"".join(parts)

    def to_proto(self) -> discovery_pb2.DeltaDiscoveryResponse:
        return discovery_pb2.DeltaDiscoveryResponse.FromString(self.encode())


def serialize_response(response: object) -> bytes:
    """gRPC response serialiser: our responses encode themselves; protobuf messages are accepted too."""
    if isinstance(response, SotwResponse | DeltaResponse):
        return response.encode()
    return response.SerializeToString()  # type: ignore[attr-defined]
