"""Structure-aware generation: a hypothesis strategy for any value a kind's field schema allows.

The schema is the allowed-field tree strict validation uses (pilot/validation/schema.py, from Istio's
CRDs), so every kind with a schema, including kinds added later, gets generated without code here.
An object gets a few of its fields (not all: DestinationRule alone has hundreds), leaves come from
fuzz_values' table, and depth is bounded so documents stay small.
"""

from __future__ import annotations

from hypothesis import strategies as st

from pilot.testing.fuzz_values import Strategy, value_for
from pilot.validation.schema import Shape, shape_for

MAX_DEPTH = 7
MAX_FIELDS = 3

_cache: dict[tuple[int, str, int], Strategy[object]] = {}
_key = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)


def from_shape(shape: Shape, path: str = "", depth: int = 0, max_fields: int = MAX_FIELDS) -> Strategy[object]:
    """Values fitting `shape`; `path` is the dotted field path without indices (for leaf values)."""
    key = (id(shape), path, depth)
    if key not in _cache:
        _cache[key] = _build(shape, path, depth, max_fields)
    return _cache[key]


def _build(shape: Shape, path: str, depth: int, max_fields: int) -> Strategy[object]:
    if shape.kind == "object":
        if not shape.fields:
            return st.dictionaries(_key, value_for(path + ".x", "any"), max_size=2)
        if depth >= MAX_DEPTH:
            return st.just({})
        children = {n: from_shape(shape.fields[n], _join(path, n), depth + 1) for n in sorted(shape.fields)}
        return _some_fields(children, max_fields)
    if shape.kind in ("map", "list"):
        assert shape.value is not None
        if depth >= MAX_DEPTH:
            return st.just({} if shape.kind == "map" else [])
        child = from_shape(shape.value, path if shape.kind == "list" else path + ".x", depth + 1)
        if shape.kind == "list":
            return st.lists(child, max_size=2)
        return st.dictionaries(_key, child, max_size=2)
    return value_for(path, shape.kind)


@st.composite
def _some_fields(draw: st.DrawFn, children: dict[str, Strategy[object]], max_fields: int) -> dict[str, object]:
    """Up to `max_fields` of the fields, each from its cached strategy (no strategy built per draw)."""
    names = list(children)
    count = draw(st.integers(0, min(max_fields, len(names))))
    chosen = sorted({draw(st.sampled_from(names)) for _ in range(count)})
    return {n: draw(children[n]) for n in chosen}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def spec_strategy(group: str, version: str, kind: str, max_fields: int = MAX_FIELDS) -> Strategy[object]:
    """A random `spec` for the kind (or {} when its schema has none)."""
    root = shape_for(group, version, kind)
    spec = root.fields.get("spec") if root is not None else None
    if spec is None:
        return st.just({})
    return from_shape(spec, "", 1, max_fields)
