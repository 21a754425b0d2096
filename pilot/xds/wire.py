"""Just enough protobuf wire format to splice pre-serialised resources into responses.

https://protobuf.dev/programming-guides/encoding/ : a length-delimited field is a varint tag
(field number << 3 | 2), a varint length, then the bytes.
"""

from __future__ import annotations

# DiscoveryResponse.resources and Resource.resource are both field 2, so one framing serves both.
RESOURCE_FIELD = 2


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    """A wire-type-2 field: strings, bytes and embedded messages."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def text_field(number: int, value: str) -> bytes:
    """A string field; proto3 leaves empty strings off the wire."""
    return length_delimited(number, value.encode()) if value else b""
