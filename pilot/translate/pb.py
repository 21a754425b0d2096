"""Small protobuf helpers shared by the translators."""

from __future__ import annotations

from envoy.config.core.v3 import address_pb2, config_source_pb2
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2
from google.protobuf.message import Message

TYPE_PREFIX = "type.googleapis.com/"


def type_url(message_cls: type[Message]) -> str:
    return TYPE_PREFIX + message_cls.DESCRIPTOR.full_name


def pack(msg: Message) -> any_pb2.Any:
    # Deterministic: map entries (Struct fields, JWT providers, ...) would otherwise be written in a
    # per-process hash order, and content-hash versions would differ between restarts and replicas.
    a = any_pb2.Any()
    a.Pack(msg, deterministic=True)
    return a


def repack_anys(msg: Message) -> Message:
    """Re-pack every nested Any deterministically (json_format.ParseDict packs them in hash order)."""
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            entry_value = field.message_type.fields_by_name["value"]
            values = list(value.values()) if entry_value.message_type is not None else []
        elif field.is_repeated:
            values = list(value)
        else:
            values = [value]
        for v in values:
            if isinstance(v, any_pb2.Any):
                _repack(v)
            else:
                repack_anys(v)
    return msg


def _repack(a: any_pb2.Any) -> None:
    from google.protobuf import symbol_database

    try:
        inner = symbol_database.Default().GetSymbol(a.TypeName())()
    except KeyError:
        return  # a type we cannot read: keep its bytes as they are
    a.Unpack(inner)
    repack_anys(inner)
    a.Pack(inner, deterministic=True)


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
