"""Small protobuf helpers shared by the translators."""

from __future__ import annotations

from envoy.config.core.v3 import address_pb2, config_source_pb2
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2
from google.protobuf.message import Message

TYPE_PREFIX = "type.googleapis.com/"


def type_url(message_cls: type[Message]) -> str:
    return TYPE_PREFIX + message_cls.DESCRIPTOR.full_name


def pack(msg: Message) -> any_pb2.Any:
    a = any_pb2.Any()
    a.Pack(msg)
    return a


def duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


def u32(v: int) -> wrappers_pb2.UInt32Value:
    return wrappers_pb2.UInt32Value(value=v)


def socket_address(ip: str, port: int) -> address_pb2.Address:
    return address_pb2.Address(socket_address=address_pb2.SocketAddress(address=ip, port_value=port))


def ads_config_source() -> config_source_pb2.ConfigSource:
    """Everything comes over the one ADS stream (make-before-break ordering needs a single stream)."""
    return config_source_pb2.ConfigSource(
        ads=config_source_pb2.AggregatedConfigSource(),
        resource_api_version=config_source_pb2.V3,
        # Wait for a resource rather than give up after 15 s: a slow first push must not leave a
        # listener or cluster half-initialised.
        initial_fetch_timeout=duration(0),
    )
