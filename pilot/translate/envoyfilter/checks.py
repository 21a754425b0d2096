"""Cheap structural checks a patched message must pass before it may reach Envoy.

Envoy validates every resource against the protoc-gen-validate rules in its protos
(https://github.com/bufbuild/protoc-gen-validate) and NACKs the whole update on the first violation.
`violations()` reads the same rules from the descriptors and checks the common ones (required messages
and oneofs, string/list minimums, numeric and duration bounds, defined enums), recursing into packed
`Any` values of known types. It is a subset: enough to keep typos and half-written patches out.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from google.protobuf import any_pb2, descriptor, duration_pb2, symbol_database
from google.protobuf.message import Message
from validate import validate_pb2

FD = descriptor.FieldDescriptor
_NUMERIC_RULES = {FD.TYPE_UINT32: "uint32", FD.TYPE_UINT64: "uint64", FD.TYPE_INT32: "int32",
                  FD.TYPE_INT64: "int64", FD.TYPE_DOUBLE: "double", FD.TYPE_FLOAT: "float"}


def violations(msg: Message, path: str = "") -> list[str]:
    return list(_walk(msg, path or msg.DESCRIPTOR.name))


@dataclass(frozen=True)
class _FieldPlan:
    field: descriptor.FieldDescriptor
    rules: validate_pb2.FieldRules | None
    oneof: str  # "" unless the field is a oneof member
    kind: str  # "map", "repeated", "message" or "scalar"


@functools.cache
def _plan(desc: descriptor.Descriptor) -> tuple[tuple[str, ...], tuple[_FieldPlan, ...]]:
    """Per message type, once: the required oneofs and, per field, its rules and shape
    (reading descriptor options is the expensive part of a check)."""
    required = tuple(o.name for o in desc.oneofs if o.GetOptions().Extensions[validate_pb2.required])
    fields = []
    for f in desc.fields:
        opts = f.GetOptions()
        rules = opts.Extensions[validate_pb2.rules] if opts.HasExtension(validate_pb2.rules) else None
        if f.type != FD.TYPE_MESSAGE:
            kind = "scalar"
        elif f.message_type.GetOptions().map_entry:
            kind = "map"
        else:
            kind = "repeated" if f.is_repeated else "message"
        oneof = f.containing_oneof.name if f.containing_oneof is not None else ""
        if rules is not None or kind != "scalar":
            fields.append(_FieldPlan(f, rules, oneof, kind))
    return required, tuple(fields)


def _walk(msg: Message, path: str) -> Iterator[str]:
    if isinstance(msg, any_pb2.Any):
        inner = _unpack(msg)
        if inner is not None:
            yield from _walk(inner, f"{path}<{inner.DESCRIPTOR.name}>")
        return
    required, fields = _plan(msg.DESCRIPTOR)
    for name in required:
        if msg.WhichOneof(name) is None:
            yield f"{path}: one of {name} is required"
    for plan in fields:
        field = plan.field
        if plan.oneof and msg.WhichOneof(plan.oneof) != field.name:
            continue  # rules on a oneof member apply only when it is the one set
        fpath = f"{path}.{field.name}"
        if plan.rules is not None:
            yield from _field_rules(msg, field, plan.rules, fpath)
        if plan.kind == "scalar":
            continue
        value = getattr(msg, field.name)
        if plan.kind == "map":
            for k, v in value.items():
                if isinstance(v, Message):
                    yield from _walk(v, f"{fpath}[{k}]")
        elif plan.kind == "repeated":
            for i, item in enumerate(value):
                yield from _walk(item, f"{fpath}[{i}]")
        elif msg.HasField(field.name):
            yield from _walk(value, fpath)


def _field_rules(msg: Message, field: descriptor.FieldDescriptor, rules: validate_pb2.FieldRules,
                 path: str) -> Iterator[str]:
    value = getattr(msg, field.name)
    kind = rules.WhichOneof("type")
    if field.is_repeated and not (field.message_type and field.message_type.GetOptions().map_entry):
        if kind == "repeated" and len(value) < rules.repeated.min_items:
            yield f"{path}: needs at least {rules.repeated.min_items} item(s)"
        return
    if field.type == FD.TYPE_MESSAGE:
        if rules.message.required and not msg.HasField(field.name):
            yield f"{path}: is required"
        if kind == "duration" and msg.HasField(field.name):
            yield from _duration_rules(value, rules.duration, path)
        return
    if kind == "string":
        if len(value) < rules.string.min_len:
            yield f"{path}: must be at least {rules.string.min_len} character(s)"
        if rules.string.HasField("min_bytes") and len(value.encode()) < rules.string.min_bytes:
            yield f"{path}: must not be empty"
    elif kind == "enum" and rules.enum.defined_only and field.enum_type.values_by_number.get(value) is None:
        yield f"{path}: {value} is not a defined {field.enum_type.name}"
    elif kind == _NUMERIC_RULES.get(field.type):
        r = getattr(rules, kind)
        for bound, ok in (("gt", lambda b: value > b), ("gte", lambda b: value >= b),
                          ("lt", lambda b: value < b), ("lte", lambda b: value <= b)):
            if r.HasField(bound) and not ok(getattr(r, bound)):
                yield f"{path}: {value} violates {bound} {getattr(r, bound)}"


def _duration_rules(d: duration_pb2.Duration, r: validate_pb2.DurationRules, path: str) -> Iterator[str]:
    ns = d.ToNanoseconds()
    for bound, ok in (("gt", lambda b: ns > b), ("gte", lambda b: ns >= b),
                      ("lt", lambda b: ns < b), ("lte", lambda b: ns <= b)):
        if r.HasField(bound) and not ok(getattr(r, bound).ToNanoseconds()):
            yield f"{path}: {d.ToJsonString()} violates {bound} {getattr(r, bound).ToJsonString()}"


def _unpack(a: any_pb2.Any) -> Message | None:
    try:
        cls = symbol_database.Default().GetSymbol(a.type_url.rsplit("/", 1)[-1])
    except KeyError:
        return None
    msg = cls()
    return msg if a.Unpack(msg) else None
