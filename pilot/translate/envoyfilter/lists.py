"""The patch operations over an ordered list of messages, and proto merge for MERGE."""

from __future__ import annotations

from collections.abc import Callable, MutableSequence
from typing import Any

from google.protobuf import any_pb2, symbol_database
from google.protobuf.message import Message

Selector = Callable[[Message], bool]


def merge(dst: Message, src: Message) -> None:
    """Proto merge, except that a `typed_config` of the same type is merged field by field (as istiod
    does) rather than replaced wholesale, so a MERGE can change one setting of a filter."""
    src = _copy(src)
    field = dst.DESCRIPTOR.fields_by_name.get("typed_config")
    if field is not None and dst.HasField("typed_config") and src.HasField("typed_config"):
        a, b = getattr(dst, "typed_config"), getattr(src, "typed_config")  # noqa: B009 (mypy: Message)
        if a.type_url == b.type_url:
            merged = unpack(a)
            if merged is not None:
                other = unpack(b)
                assert other is not None
                merged.MergeFrom(other)
                b.Pack(merged, deterministic=True)
    dst.MergeFrom(src)


def unpack(a: any_pb2.Any) -> Message | None:
    try:
        cls = symbol_database.Default().GetSymbol(a.type_url.rsplit("/", 1)[-1])
    except KeyError:
        return None
    msg = cls()
    return msg if a.Unpack(msg) else None


def apply_op(items: MutableSequence[Any], op: str, selected: Selector, value: Message | None) -> bool:
    """Apply one operation to a repeated message field in place; True when it changed something."""
    current = [_copy(m) for m in items]
    hits = [i for i, m in enumerate(current) if selected(m)]
    out = list(current)
    if op == "ADD":
        assert value is not None
        out.append(_copy(value))
    elif op == "INSERT_FIRST":
        assert value is not None
        out.insert(0, _copy(value))
    elif op in ("INSERT_BEFORE", "INSERT_AFTER"):
        if not hits:
            return False
        assert value is not None
        at = hits[0] if op == "INSERT_BEFORE" else hits[-1] + 1
        out.insert(at, _copy(value))
    elif not hits:
        return False
    elif op == "REMOVE":
        out = [m for i, m in enumerate(current) if i not in hits]
    elif op == "REPLACE":
        assert value is not None
        out = [_copy(value) if i in hits else m for i, m in enumerate(current)]
    elif op == "MERGE":
        assert value is not None
        for i in hits:
            merge(out[i], value)
    else:
        raise ValueError(f"unknown operation {op}")
    del items[:]
    items.extend(out)
    return True


def _copy(m: Message) -> Message:
    c = type(m)()
    c.CopyFrom(m)
    return c
